// The steering panel of RunDetails: pause / resume, the limits, enqueue a configuration (typed, or
// copied from the selected run and varied), restart the selected run, and a CSV of the runs.
//
// Every control says what it will do before it does it (in its title and in the preview line while
// it is hovered or focused), and is checked here with the rules the driver applies (the driver
// checks again and its answer is shown). Requests go to the hdnotebook server extension's REST
// `.../steer` where it answers (it acts while the kernel is busy in `run.wait_for_completion()`),
// else to the kernel as a `steer` message (it acts once the running cell ends: the result line says so).
// The steering log (requests and the driver's answers) comes from the model's `meta.steering`.
import { TERMINAL, fmt } from "./state.js";
import { esc, restFetch } from "./page.js";

const LIMITS = [
  ["max_total_runs", "max total", 1, 1000, true],
  ["max_concurrent_runs", "max at once", 1, 100, true],
  ["max_duration_minutes", "max minutes", 0, Infinity, false],
];

// POST {action, args} to the server's steer route; rejects when there is no server page
function postSteer(rest, body) {
  return restFetch(rest.workspace, rest.run, "steer", { method: "POST", body });
}

// ---- what each control would do (pure: tested through the browser test) -------------------------
function counts(state) {
  let running = 0;
  for (const id of state.order) if (state.runs[id].status === "Running") running += 1;
  return { running, created: state.order.length };
}

export function checkLimit(name, text) {
  const spec = LIMITS.find((l) => l[0] === name);
  if (text === "" || text === null || text === undefined) return { value: null };
  const value = Number(text);
  if (!Number.isFinite(value)) return { error: `${name} must be a number, got ${JSON.stringify(text)}` };
  if (spec[4] && !Number.isInteger(value)) return { error: `${name} must be an int from ${spec[2]} to ${spec[3]}, got ${text}` };
  if (name === "max_duration_minutes") {
    if (value <= 0) return { error: `max_duration_minutes must be a finite number > 0 (0.5 = 30 s), got ${text}` };
  } else if (value < spec[2] || value > spec[3]) {
    return { error: `${name} must be from ${spec[2]} to ${spec[3]}, got ${text}` };
  }
  return { value };
}

// the configuration typed in the box, checked against the space's axes (names; a choice's values)
export function checkConfig(meta, text) {
  let params;
  try { params = JSON.parse(text); } catch (e) { return { error: `not JSON: ${e.message}` }; }
  if (!params || typeof params !== "object" || Array.isArray(params)) return { error: "a configuration is a JSON object {name: value}" };
  const names = (meta.axes || []).map((a) => a.name);
  const missing = names.filter((n) => !(n in params));
  const unknown = Object.keys(params).filter((n) => !names.includes(n));
  if (missing.length || unknown.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.map((n) => `'${n}'`).join(", ")}`);
    if (unknown.length) parts.push(`not in the search space: ${unknown.map((n) => `'${n}'`).join(", ")}`);
    return { error: `needs exactly the parameters ${names.join(", ")}; ${parts.join("; ")}` };
  }
  for (const a of meta.axes || []) {
    if (a.categorical && a.values && !a.values.some((v) => v === params[a.name])) {
      return { error: `${a.name}=${JSON.stringify(params[a.name])} is not a value of ${a.expr}` };
    }
    if (!a.categorical && typeof params[a.name] !== "number") return { error: `${a.name} must be a number (${a.expr})` };
  }
  return { params };
}

// ---- CSV: one row per run, the columns of HyperDriveRun.to_dataframe() -----------------------------
function csvCell(v) {
  if (v === null || v === undefined) return "";
  const s = typeof v === "number" ? String(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function runsCsv(state) {
  const names = ((state.meta && state.meta.axes) || []).map((a) => a.name);
  const header = ["run_id", "number", "status", ...names.map((n) => `params_${n}`), "best_value", "last_value",
    "intervals", "duration_s", "stop_reason", "error"];
  const lines = [header.join(",")];
  for (const id of state.order) {
    const r = state.runs[id];
    const duration = r.started && r.ended ? r.ended - r.started : null;
    lines.push([r.id, r.number, r.status, ...names.map((n) => (r.params || {})[n]), r.best, r.last, r.intervals,
      duration, r.stop_reason, r.error].map(csvCell).join(","));
  }
  return lines.join("\n") + "\n";
}

// ---- the panel ----------------------------------------------------------------------------------
export function mountSteering({ container, model, state, getSelected }) {
  const box = document.createElement("details");
  box.className = "hd-steer";
  box.open = true;
  box.innerHTML = `
    <summary>Steer this experiment</summary>
    <div class="hd-steer-row">
      <button class="hd-pause"></button>
      ${LIMITS.map(([name, label]) => `<label>${label} <input type="number" class="hd-limit" data-limit="${name}"
        ${name === "max_duration_minutes" ? 'step="any" min="0"' : "step=\"1\" min=\"1\""} size="5"></label>`).join("")}
      <button class="hd-apply-limits">Apply limits</button>
      <button class="hd-csv">Download CSV</button>
    </div>
    <div class="hd-steer-row">
      <textarea class="hd-enqueue-text" rows="2" cols="48" spellcheck="false" aria-label="configuration to enqueue (JSON)"></textarea>
      <button class="hd-copy-params">Copy selected run's parameters</button>
      <button class="hd-enqueue">Enqueue</button>
      <button class="hd-restart">Restart selected run</button>
    </div>
    <div class="hd-steer-preview" role="status" aria-live="polite"></div>
    <div class="hd-steer-result" role="status" aria-live="polite"></div>
    <ol class="hd-steer-log" aria-label="steering log"></ol>`;
  container.appendChild(box);
  const q = (s) => box.querySelector(s);
  const ui = { pause: q(".hd-pause"), apply: q(".hd-apply-limits"), csv: q(".hd-csv"), text: q(".hd-enqueue-text"),
    copy: q(".hd-copy-params"), enqueue: q(".hd-enqueue"), restart: q(".hd-restart"), preview: q(".hd-steer-preview"),
    result: q(".hd-steer-result"), log: q(".hd-steer-log"), limits: [...box.querySelectorAll(".hd-limit")] };
  const rest = model.get("_rest") || {};
  let restOk = rest.workspace ? null : false;
  const touched = new Set(); // limit inputs the user edited (others follow the experiment)

  const running = () => state.header && !TERMINAL.has(state.header.status);
  const meta = () => state.meta || {};

  function limitChanges() {
    const changes = {};
    for (const input of ui.limits) {
      const name = input.dataset.limit;
      if (!touched.has(name)) continue;
      const checked = checkLimit(name, input.value);
      if (checked.error) return { error: checked.error };
      if (name === "max_total_runs" && checked.value === null) return { error: "max_total_runs must be from 1 to 1000" };
      if (checked.value !== (meta()[name] ?? null)) changes[name] = checked.value;
    }
    return { changes };
  }

  // what each control would do now
  const previews = {
    pause() {
      const { running: n } = counts(state);
      return meta().paused ? `Resume: new runs start again, up to ${meta().max_concurrent_runs || "the machine's slots"} at once`
        : `Pause: no new runs start; the ${n} running finish`;
    },
    apply() {
      const { changes, error } = limitChanges();
      if (error) return `Cannot apply: ${error}`;
      const said = Object.entries(changes).map(([n, v]) => `${n} ${meta()[n] ?? "none"} \u2192 ${v ?? "none"}`);
      if (!said.length) return "Apply limits: nothing changed (edit a limit first)";
      return `Apply: ${said.join("; ")} (${counts(state).created} runs created so far)`;
    },
    enqueue() {
      const checked = checkConfig(meta(), ui.text.value);
      if (checked.error) return `Cannot enqueue: ${checked.error}`;
      const total = meta().max_total_runs;
      const { created } = counts(state);
      const room = created < total ? "" : ` \u2014 no room: ${created} of max_total_runs ${total} created, raise it first`;
      return `Enqueue: run ${JSON.stringify(checked.params)} next, before new samples (counts toward max_total_runs: ${created} of ${total} created)${room}`;
    },
    copy() {
      const sel = getSelected();
      return sel ? `Copy run #${sel.number}'s parameters into the box (as a dict), to enqueue it or a variation`
        : "Select a run in the table to copy its parameters";
    },
    restart() {
      const sel = getSelected();
      if (!sel) return "Select a run in the table to restart it";
      return TERMINAL.has(sel.status) ? `Restart: a new run with the parameters of run #${sel.number} (${sel.status}), next`
        : `Restart: stop run #${sel.number} (${sel.status}) and start a new run with its parameters, next`;
    },
    csv() { return `Download the ${state.order.length} runs as CSV (the columns of hyperdrive_run.to_dataframe())`; },
  };
  let hovered = null;
  function showPreview(key) { hovered = key; ui.preview.textContent = key ? previews[key]() : ""; box.dataset.preview = ui.preview.textContent; }
  for (const [key, node] of [["pause", ui.pause], ["apply", ui.apply], ["enqueue", ui.enqueue], ["copy", ui.copy],
    ["restart", ui.restart], ["csv", ui.csv]]) {
    node.addEventListener("mouseenter", () => showPreview(key));
    node.addEventListener("focus", () => showPreview(key));
    node.addEventListener("mouseleave", () => showPreview(null));
    node.addEventListener("blur", () => showPreview(null));
  }

  async function send(action, args, what) {
    ui.result.textContent = `${what}\u2026`;
    if (restOk !== false) {
      try {
        const res = await postSteer(rest, { action, args });
        const body = await res.json().catch(() => ({}));
        restOk = true;
        ui.result.textContent = res.status === 200 ? `done: ${body.message}`
          : res.status === 202 ? `sent: ${body.message}` : `refused: ${body.message || res.statusText}`;
        box.dataset.result = res.status === 200 ? "applied" : res.status === 202 ? "pending" : "rejected";
        box.dataset.via = "rest";
        return;
      } catch (e) { restOk = false; }
    }
    model.send({ type: "steer", action, args });
    ui.result.textContent = `${what}: sent to the kernel; it acts once the running cell ends`;
    box.dataset.result = "sent";
    box.dataset.via = "kernel";
  }

  ui.pause.addEventListener("click", () => send(meta().paused ? "resume" : "pause", {}, meta().paused ? "resuming" : "pausing"));
  for (const input of ui.limits) {
    input.addEventListener("input", () => { touched.add(input.dataset.limit); update(); if (hovered) showPreview(hovered); });
  }
  ui.apply.addEventListener("click", () => {
    const { changes, error } = limitChanges();
    if (error || !Object.keys(changes).length) { ui.result.textContent = error || "nothing to apply"; return; }
    touched.clear();
    send("set_limits", changes, "applying limits");
  });
  ui.text.addEventListener("input", () => { update(); if (hovered) showPreview(hovered); });
  ui.copy.addEventListener("click", () => {
    const sel = getSelected();
    if (!sel) return;
    ui.text.value = JSON.stringify(sel.params);
    ui.result.textContent = `copied run #${sel.number}'s parameters: edit them to enqueue a variation`;
    update();
  });
  ui.enqueue.addEventListener("click", () => {
    const checked = checkConfig(meta(), ui.text.value);
    if (checked.error) { ui.result.textContent = checked.error; return; }
    send("enqueue", { params: checked.params }, "enqueuing");
  });
  ui.restart.addEventListener("click", () => {
    const sel = getSelected();
    if (sel) send("restart", { run_id: sel.id }, `restarting run #${sel.number}`);
  });
  ui.csv.addEventListener("click", () => {
    const blob = new Blob([runsCsv(state)], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${meta().experiment || "experiment"}-${meta().parent_id || "runs"}.csv`;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  });

  // follow the experiment: labels, enabled controls, limits not being edited, the log
  function update() {
    const m = meta();
    const live = running();
    ui.pause.textContent = m.paused ? "Resume" : "Pause";
    ui.pause.disabled = !live;
    for (const input of ui.limits) {
      const name = input.dataset.limit;
      if (!touched.has(name) && document.activeElement !== input) input.value = m[name] ?? "";
      input.disabled = !live;
    }
    const limits = limitChanges();
    ui.apply.disabled = !live || !!limits.error || !Object.keys(limits.changes || {}).length;
    const sel = getSelected();
    ui.copy.disabled = !sel;
    ui.restart.disabled = !live || !sel;
    ui.enqueue.disabled = !live || !!checkConfig(m, ui.text.value).error;
    if (!ui.text.value && !ui.text.placeholder && m.axes) {
      ui.text.placeholder = JSON.stringify(Object.fromEntries(m.axes.map((a) => [a.name, a.values ? a.values[0] : 0.1])));
    }
    for (const [key, node] of [["pause", ui.pause], ["apply", ui.apply], ["enqueue", ui.enqueue], ["copy", ui.copy],
      ["restart", ui.restart], ["csv", ui.csv]]) node.title = previews[key]();
    if (hovered) showPreview(hovered);
    const entries = (m.steering || []).slice(-8).reverse();
    const html = entries.map((e) => `<li data-state="${esc(e.state)}">${esc(e.action)} \u2014 ${esc(e.state)}${e.message ? `: ${esc(e.message)}` : ""}</li>`).join("");
    if (ui.log.__hd !== html) { ui.log.__hd = html; ui.log.innerHTML = html; }
    box.dataset.paused = m.paused ? "1" : "0";
  }

  // a run's parameters into the box ("copy as dict", "enqueue a variation": focused, ready to edit)
  function fill(params, focus) {
    box.open = true;
    ui.text.value = JSON.stringify(params);
    ui.result.textContent = focus ? "edit the parameters, then Enqueue (its preview says what it will run)"
      : "copied the run's parameters (and to the clipboard as a Python dict)";
    update();
    if (focus) ui.text.focus();
  }

  update();
  return { update, fill };
}

export const STEER_CSS = `
.hdnotebook-rundetails .hd-steer { margin: 6px 0; border: 1px solid var(--jp-border-color2, #ddd); border-radius: 3px; padding: 2px 6px; }
.hdnotebook-rundetails .hd-steer summary { cursor: pointer; font-weight: 600; }
.hdnotebook-rundetails .hd-steer-row { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 4px 0; }
.hdnotebook-rundetails .hd-steer button, .hdnotebook-rundetails .hd-steer input, .hdnotebook-rundetails .hd-steer textarea {
  color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, #fff); border: 1px solid var(--jp-border-color1, #bbb);
  border-radius: 2px; padding: 2px 6px; font: inherit; }
.hdnotebook-rundetails .hd-steer input { width: 5em; }
.hdnotebook-rundetails .hd-steer textarea { font-family: var(--jp-code-font-family, monospace); }
.hdnotebook-rundetails .hd-steer button:disabled { color: var(--jp-ui-font-color3, #999); }
.hdnotebook-rundetails .hd-steer-preview { min-height: 1.3em; color: var(--jp-ui-font-color1, #333); font-style: italic; }
.hdnotebook-rundetails .hd-steer-result { min-height: 1.3em; color: var(--jp-ui-font-color1, #333); }
.hdnotebook-rundetails .hd-steer-log { margin: 2px 0 2px 18px; padding: 0; color: var(--jp-ui-font-color2, #555); }
.hdnotebook-rundetails .hd-steer-log li[data-state="rejected"] { color: var(--jp-error-color1, #c62828); }
`;
