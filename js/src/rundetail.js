// The expanded row's full detail: every metric the run logged, the tail of its output, its error
// with traceback, the runs it links to, and two actions: "Copy as dict" (its parameters as a Python
// dict, to the clipboard and the steering panel's box) and "Enqueue a variation" (the box, ready to
// edit and enqueue). Asked of the server extension (GET .../runs/RUN/detail: it answers while the
// kernel is busy) or, without one, of the kernel (a `run_detail` request with an id), and kept per
// run until its status or its number of values changes.
import { esc, restFetch } from "./page.js";
import { fmt } from "./state.js";

function pyValue(v) {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  return String(v);
}

export function pythonDict(params) {
  return `{${Object.entries(params || {}).map(([k, v]) => `${pyValue(k)}: ${pyValue(v)}`).join(", ")}}`;
}

function detailHtml(d) {
  const metrics = Object.entries(d.metrics || {}).map(([name, values]) =>
    `<tr><td>${esc(name)}</td><td>${values.length}</td><td>${esc(values.slice(-6).map((v) => fmt(v)).join(", "))}</td></tr>`).join("");
  const links = Object.entries(d.links || {}).map(([k, v]) => `${esc(k)}: <code>${esc(v)}</code>`).join(" \u00b7 ");
  return `
    <div class="hd-rd-actions"><button class="hd-rd-copy">Copy as dict</button> <button class="hd-rd-vary">Enqueue a variation</button>
      <code class="hd-rd-dict">${esc(pythonDict(d.params))}</code></div>
    ${links ? `<div><b>links</b> ${links}</div>` : ""}
    <table class="hd-rd-metrics"><thead><tr><th>metric</th><th>values</th><th>last values</th></tr></thead><tbody>${metrics}</tbody></table>
    ${d.traceback ? `<div><b>traceback</b></div><pre class="hd-rd-traceback">${esc(d.traceback)}</pre>` : ""}
    ${d.output ? `<div><b>output (end)</b></div><pre class="hd-rd-output">${esc(d.output)}</pre>` : ""}`;
}

export function mountRunDetail({ model, table, state, onVary }) {
  const cache = new Map(); // run id -> {key, html, detail}
  const waiting = new Map(); // request id -> run id
  let nextId = 1;
  const rest = model.get("_rest") || {};
  let restOk = rest.workspace ? null : false;

  function keyOf(id) { const r = state.runs[id]; return r ? `${r.status}|${r.intervals}|${r.ended}` : ""; }

  function store(id, detail, error) {
    const html = error ? `<div class="hd-rd-error">${esc(error)}</div>` : detailHtml(detail);
    cache.set(id, { key: keyOf(id), html, detail });
    fill();
  }

  async function ask(id) {
    cache.set(id, { key: keyOf(id), html: "<div>loading\u2026</div>", pending: true });
    if (restOk !== false && rest.workspace) {
      try {
        const res = await restFetch(rest.workspace, id, "detail");
        if (res.ok) { restOk = true; store(id, await res.json()); return; }
      } catch (e) { /* the kernel then */ }
      restOk = false;
    }
    const rid = nextId++;
    waiting.set(rid, id);
    model.send({ type: "run_detail", id: rid, run_id: id });
  }

  function onMessage(msg) {
    if (!msg || msg.type !== "run_detail" || !waiting.has(msg.id)) return;
    const id = waiting.get(msg.id);
    waiting.delete(msg.id);
    store(id, msg.detail, msg.error);
  }
  model.on("msg:custom", onMessage);

  // after each table render: fill every open detail (from the cache; ask again when the run changed)
  function fill() {
    for (const box of table.querySelectorAll(".hd-run-detail[data-run]")) {
      const id = box.dataset.run;
      const have = cache.get(id);
      if (!have || (!have.pending && have.key !== keyOf(id))) { ask(id); continue; }
      if (box.__hd !== have.html) { box.__hd = have.html; box.innerHTML = have.html; box.dataset.loaded = have.detail ? "1" : ""; }
    }
  }

  table.addEventListener("click", (ev) => {
    const button = ev.target.closest(".hd-rd-copy, .hd-rd-vary");
    if (!button) return;
    ev.stopPropagation();
    const id = button.closest(".hd-run-detail").dataset.run;
    const d = cache.get(id) && cache.get(id).detail;
    if (!d) return;
    if (button.classList.contains("hd-rd-copy") && navigator.clipboard) navigator.clipboard.writeText(pythonDict(d.params)).catch(() => {});
    onVary(d.params, button.classList.contains("hd-rd-vary"));
  }, true);

  return { fill, destroy() { model.off("msg:custom", onMessage); } };
}

export const RUNDETAIL_CSS = `
.hdnotebook-rundetails .hd-run-detail { margin-top: 4px; white-space: normal; }
.hdnotebook-rundetails .hd-rd-metrics td, .hdnotebook-rundetails .hd-rd-metrics th { padding: 1px 6px; position: static; }
.hdnotebook-rundetails .hd-rd-output, .hdnotebook-rundetails .hd-rd-traceback { max-height: 160px; overflow: auto; white-space: pre-wrap;
  background: var(--jp-layout-color2, #f3f3f3); padding: 4px; margin: 2px 0; }
.hdnotebook-rundetails .hd-rd-actions button { font: inherit; }
`;
