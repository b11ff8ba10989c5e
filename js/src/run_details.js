// RunDetails front end (anywidget ESM): header, runs table, learning curves, parallel coordinates and
// the primary metric over time.
//
// Per model (`initialize`): the view state, started from the synced `_snapshot` (it comes with the
// widget, so nothing has to be asked of a kernel busy in `run.wait_for_completion()`) and kept up by
// numbered "update" messages; an update after a gap waits for the next snapshot.
// Per view (`render`): drawing. Charts redraw only when what they show changed, new points of the
// runs still running extend their traces, table rows are patched in place, a ResizeObserver keeps
// every chart as wide as its box and the colours follow the JupyterLab theme.
import { CSS } from "./style.js";
import { TERMINAL, applyMessage, createState, fmt, fmtSeconds, metricNames, nowServer, shortId } from "./state.js";
import { renderTable, tickDurations } from "./table.js";
import { BEST_N, FEW_RUNNING, VIRIDIS, brushFromPos, curveColouring, learningCurves, metricOverTime, overlayPaths, parallelCoordinates, runColor } from "./charts.js";
import { STATUS_COLORS, readTheme, watchTheme } from "./theme.js";
import { STEER_CSS, mountSteering } from "./steer.js";
import { INSIGHT_CSS, mountInsight } from "./insight.js";
import { RUNDETAIL_CSS, mountRunDetail } from "./rundetail.js";
import { esc, restFetch } from "./page.js";
import { createRestModel } from "./rest_model.js";

// plotly is bundled in, but evaluated only when the first chart is drawn: anywidget gives a module
// 2 s to load, and evaluating plotly takes about that long in a slow browser
let plotly = null;
function loadPlotly() {
  if (!plotly) plotly = import("./plotly.js").then((m) => m.default || m);
  return plotly;
}

const MIN_DRAW_MS = 250; // at most 4 redraws a second, however fast messages come
// while runs stream, the parallel coordinates and the time chart follow every 5 s at most, and the page
// stays idle 16x as long as they took (they are dear with many runs; the table and curves follow at once)
const SECONDARY_MS = 5000;
const SECONDARY_IDLE = 16;
const SVG_NS = "http://www.w3.org/2000/svg";
const IDLE_PER_DRAW = 4; // and the page idle 4x as long as a draw took: the main thread <= 20 % busy
const PLOT_CONFIG = { displaylogo: false, responsive: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

// ---- per model ----------------------------------------------------------------------------------
// the shared state of a model, found by the object of its current `_snapshot` (the model proxies
// anywidget gives `initialize` and `render` differ; the attribute values are the same objects)
const SHARED = new WeakMap();

function createShared(model) {
  const shared = { state: createState(), seq: -1, stale: false, listeners: new Set() };
  const notify = (msg) => { for (const f of shared.listeners) f(msg); };
  shared.adopt = () => {
    const snap = model.get("_snapshot");
    if (!snap || snap.type !== "snapshot") return;
    SHARED.set(snap, shared);
    // older than what we have (unless it comes from another model: the server made a new one)
    if (typeof snap.seq === "number" && snap.seq < shared.seq && snap.epoch === shared.epoch) return;
    shared.epoch = snap.epoch;
    applyMessage(shared.state, snap);
    shared.seq = typeof snap.seq === "number" ? snap.seq : 0;
    shared.stale = false;
    notify(snap);
  };
  shared.onMessage = (msg) => {
    if (!msg || msg.type !== "update") return;
    if (typeof msg.seq === "number") {
      if (msg.seq <= shared.seq) return; // already in the snapshot
      if (msg.seq !== shared.seq + 1) { // a gap: wait for a newer snapshot (asked for; also pushed after a display)
        if (!shared.stale) { shared.stale = true; model.send({ type: "snapshot" }); }
        return;
      }
      shared.seq = msg.seq;
    }
    applyMessage(shared.state, msg);
    notify(msg);
  };
  shared.adopt();
  model.on("change:_snapshot", shared.adopt);
  model.on("msg:custom", shared.onMessage);
  return shared;
}

// `queued`: custom messages that came while this bundle loaded (the loader in run_details.py held them)
function initialize({ model, queued = [] }) {
  const shared = createShared(model);
  for (const [msg] of queued) shared.onMessage(msg);
  return () => {
    model.off("change:_snapshot", shared.adopt);
    model.off("msg:custom", shared.onMessage);
  };
}

// ---- cancel over REST (the hdnotebook server extension), so it acts while the kernel is busy ----
function restRequest(rest, runId, method, body) {
  if (!rest || !rest.workspace) return Promise.reject(new Error("no Jupyter server page"));
  return restFetch(rest.workspace, runId, method === "POST" ? "cancel" : "", { method, body });
}

// ---- per view -----------------------------------------------------------------------------------
function skeleton(el) {
  el.classList.add("hdnotebook-rundetails");
  el.innerHTML = `
    <style>${CSS}</style>
    <div class="hd-header">
      <div class="hd-title">RunDetails: loading\u2026</div>
      <div class="hd-progress"><div class="hd-bar" role="img" aria-label="progress"></div><span class="hd-progress-text"></span></div>
      <div class="hd-stats"></div>
      <div class="hd-warning" hidden></div>
    </div>
    <div class="hd-controls">
      <label>status <select class="hd-filter"><option value="">all</option>
        ${Object.keys(STATUS_COLORS).map((s) => `<option value="${s}">${s}</option>`).join("")}</select></label>
      <label>curves of <select class="hd-metric"></select></label>
      <label>colour by <select class="hd-colour-by" title="what the colour of a curve (and of its line in the parallel coordinates) tells"></select></label>
      <button class="hd-cancel-run" disabled title="select a running run in the table">Cancel selected run</button>
      <button class="hd-cancel-exp" disabled>Cancel experiment</button>
      <span class="hd-cancel-note" role="status"></span>
      <span class="hd-shown"></span> <button class="hd-show-all" hidden></button>
    </div>
    <div class="hd-table-wrap"><table class="hd-table" aria-label="runs"></table></div>
    <div class="hd-charts">
      <div class="hd-chart hd-curves" role="img"></div>
      <div class="hd-legend"></div>
      <div class="hd-brush-bar"><span class="hd-brush-note"></span></div>
      <div class="hd-chart hd-parcoords" role="img" aria-label="parallel coordinates: one line per run across its hyperparameters and its best primary metric"></div>
      <div class="hd-chart hd-time" role="img"></div>
    </div>`;
  const q = (s) => el.querySelector(s);
  return {
    title: q(".hd-title"), bar: q(".hd-bar"), progress: q(".hd-progress-text"), stats: q(".hd-stats"), warning: q(".hd-warning"),
    filter: q(".hd-filter"), metric: q(".hd-metric"), colourBy: q(".hd-colour-by"), cancelRun: q(".hd-cancel-run"), cancelExp: q(".hd-cancel-exp"),
    cancelNote: q(".hd-cancel-note"), shown: q(".hd-shown"), showAll: q(".hd-show-all"), table: q(".hd-table"), charts: q(".hd-charts"),
    curves: q(".hd-curves"), parcoords: q(".hd-parcoords"), time: q(".hd-time"), legend: q(".hd-legend"),
    brushNote: q(".hd-brush-note"),
  };
}

function drawHeader(ui, state) {
  const meta = state.meta;
  const h = state.header;
  if (!meta || !h) return;
  const color = STATUS_COLORS[h.status] || "#555";
  const title = `Experiment <b>${esc(meta.experiment)}</b> \u00b7 run <code>${esc(meta.parent_id)}</code> ` +
    `<span class="hd-badge hd-experiment-status" style="background:${color}">${esc(h.status)}</span>`;
  if (ui.title.__hd !== title) { ui.title.__hd = title; ui.title.innerHTML = title; }
  const total = h.total || Math.max(h.runs, 1);
  const counts = h.counts || {};
  const bar = ["Completed", "Canceled", "Failed", "Running"].map((s) =>
    `<div class="hd-fill" style="width:${(100 * (counts[s] || 0)) / total}%;background:${STATUS_COLORS[s]}" title="${s} ${counts[s] || 0}"></div>`).join("");
  if (ui.bar.__hd !== bar) { ui.bar.__hd = bar; ui.bar.innerHTML = bar; }
  const parts = [`${h.finished}/${total} runs finished`];
  if (counts.Running) parts.push(`${counts.Running} running`);
  if (counts.Queued) parts.push(`${counts.Queued} queued`);
  if (counts.Failed) parts.push(`${counts.Failed} failed`);
  ui.progress.textContent = parts.join(" \u00b7 ");
  ui.bar.setAttribute("aria-label", ui.progress.textContent);
  const stats = [];
  if (h.started) stats.push(`elapsed ${fmtSeconds((h.ended || nowServer(state)) - h.started)}`);
  if (h.best !== null && h.best !== undefined) {
    const best = h.best_run && state.runs[h.best_run];
    stats.push(`best ${esc(meta.primary)} (${meta.goal}) = <b>${esc(fmt(h.best))}</b> in run #${esc(best ? best.number : shortId(h.best_run))}`);
  }
  if (h.stopped_early) {
    stats.push(`${h.stopped_early} run${h.stopped_early > 1 ? "s" : ""} stopped early \u00b7 ~${Math.round(100 * h.saved_fraction)} % compute saved ` +
      `(${h.saved_intervals} intervals not run vs the longest run's ${h.longest})`);
  }
  if (meta.policy) stats.push(`policy ${esc(meta.policy)}`);
  const html = stats.join(" \u00b7 ");
  if (ui.stats.__hd !== html) { ui.stats.__hd = html; ui.stats.innerHTML = html; }
  const warn = [h.warning, h.error].filter(Boolean).join(" \u2014 ");
  ui.warning.hidden = !warn;
  ui.warning.textContent = warn;
}

// the legend under the curves: what colour, line style and width mean
function drawLegend(ui, colouring, theme, metric, goal) {
  const swatch = (style) => `<svg width="26" height="10" aria-hidden="true"><line x1="1" y1="5" x2="25" y2="5" style="${style}"/></svg>`;
  const ramp = (reverse) => (reverse ? [...VIRIDIS].reverse() : VIRIDIS).map((c, i) => `${c} ${(100 * i) / (VIRIDIS.length - 1)}%`).join(",");
  const parts = [];
  if (colouring.mode === "metric") {
    parts.push(`<span class="hd-colour-key" data-mode="metric"><span class="hd-ramp" style="background:linear-gradient(90deg,${ramp(false)})"></span> ` +
      `colour: best ${esc(colouring.name || metric)} of the run (dark = worse, bright = better)</span>`);
  } else if (colouring.mode === "param" && colouring.categorical) {
    parts.push(`<span class="hd-colour-key" data-mode="param">colour: ${esc(colouring.name)} ` + colouring.cats.map((c, i) =>
      `<span class="hd-cat"><span class="hd-swatch" style="background:${colouring.colors[i]}"></span>${esc(c)}</span>`).join(" ") + "</span>");
  } else if (colouring.mode === "param") {
    const end = (x) => fmt(colouring.log ? Math.pow(10, x) : x);
    parts.push(`<span class="hd-colour-key" data-mode="param">colour: ${esc(colouring.name)}${colouring.log ? " (log scale)" : ""} ` +
      `${esc(end(colouring.lo))} <span class="hd-ramp" style="background:linear-gradient(90deg,${ramp(false)})"></span> ${esc(end(colouring.hi))}</span>`);
  } else {
    parts.push(`<span class="hd-colour-key" data-mode="run">colour: one per run, as the swatch in the table's # column</span>`);
  }
  parts.push(`<span>${swatch(`stroke:${theme.font2};stroke-width:3.5`)} ${colouring.many ? `the best ${BEST_N}` : "best run"}</span>`);
  const thin = colouring.running > FEW_RUNNING;
  parts.push(`<span><svg width="26" height="10" aria-hidden="true"><line x1="1" y1="5" x2="21" y2="5" style="stroke:${theme.font2};stroke-width:${thin ? 1.4 : 2.5}"/>` +
    `${colouring.many ? `<circle cx="21" cy="5" r="3" style="fill:${theme.font2};stroke:${theme.bg1}"/>` : ""}</svg> running${colouring.many ? " (\u25cf its latest point)" : ""}</span>`);
  parts.push(`<span>${swatch(`stroke:${theme.font2};stroke-width:1.2;stroke-dasharray:2 3`)} stopped early / canceled</span>`);
  parts.push(`<span>${swatch(`stroke:${STATUS_COLORS.Failed};stroke-width:1.2;stroke-dasharray:6 3`)} failed</span>`);
  parts.push(`<span>${swatch(`stroke:${theme.selected};stroke-width:4`)} selected</span>`);
  const html = parts.join("");
  if (ui.legend.__hd !== html) { ui.legend.__hd = html; ui.legend.innerHTML = html; }
}

// A chart's identity for incremental drawing: everything but the points of its own (per-run) traces
function signature(fig) {
  return JSON.stringify([fig.layout, fig.data.map((t) => [t.meta, t.line, t.opacity, t.mode, t.marker && t.marker.color,
    t.meta && String(t.meta).includes("|") ? t.x.length : 0])]);
}

function render({ model, el }) {
  const shared = SHARED.get(model.get("_snapshot")) || createShared(model);
  const state = shared.state;
  // brushes: {axis key: {lo, hi} | {cats}} in data units; brushed: the ids inside them all, or null
  const view = { sortKey: "number", sortDir: 1, statusFilter: "", selected: model.get("selected_run") || null, metric: null, colourBy: "",
    brushes: {}, brushed: null, expanded: new Set() };
  let pc = null; // the parallel-coordinates figure last drawn (its axes map pointer positions to brushes)
  const ui = skeleton(el);
  // the steering panel (its own module): after the cancel controls
  const steerBox = document.createElement("div");
  steerBox.innerHTML = `<style>${STEER_CSS}</style>`;
  el.querySelector(".hd-controls").after(steerBox);
  const steer = mountSteering({ container: steerBox, model, state, getSelected: () => (view.selected && state.runs[view.selected]) || null });
  // the insight panel (its own module): after the charts
  const insightBox = document.createElement("div");
  insightBox.innerHTML = `<style>${INSIGHT_CSS}</style>`;
  el.querySelector(".hd-charts").after(insightBox);
  const insight = mountInsight({ container: insightBox });
  // the expanded rows' full detail (its own module); its actions fill the steering panel's box
  insightBox.insertAdjacentHTML("beforeend", `<style>${RUNDETAIL_CSS}</style>`);
  const runDetail = mountRunDetail({ model, table: ui.table, state, onVary: (params, vary) => steer.fill(params, vary) });
  let theme = null;
  let lastDraw = 0;
  let timer = null;
  let draws = 0;
  let alive = true;
  let Plotly = null;
  // what changed since the last draw: null = everything (layout, theme, selection, size...)
  let pending = { runs: new Set(), points: new Set(), full: true };
  const drawn = new Map(); // chart div -> {sig, fig}
  let rest = null; // the REST cancel: null = not tried yet, true = reachable, false = not
  let lastSecondary = 0;
  let lastUpdateMs = 0; // how long the last incremental draw took
  let lastSecondaryMs = 0; // how long the secondary charts took last time
  let lastStatus = ""; // the experiment's status at the last draw
  const curvesCache = {}; // many runs: the background traces of the learning curves
  let secondaryTimer = null;
  const secondaryRuns = new Set(); // runs changed since the secondary charts were last drawn
  let overlayLines = []; // many runs: the selected, best and running runs, drawn over the curves
  let insightDirty = true; // runs changed since the insight panel was last drawn
  // which of the dearer charts are on screen (IntersectionObserver; unknown = assume on screen);
  // one that comes into view with changes not drawn yet is drawn then
  const seen = new Map();
  const visibility = typeof IntersectionObserver === "undefined" ? null : new IntersectionObserver((entries) => {
    let back = false;
    for (const e of entries) {
      if (e.isIntersecting && seen.get(e.target) === false) back = true;
      seen.set(e.target, e.isIntersecting);
    }
    if (back && alive && secondaryRuns.size) schedule();
    if (back && alive) drawInsightSoon();
  }, { rootMargin: "200px" });

  // the overlay of the learning curves (and of the parallel coordinates): an SVG over plotly's plot
  // area, in its axes' pixels
  function drawOverlay(div = ui.curves, lines = overlayLines) {
    const fl = div._fullLayout;
    let svg = div.querySelector("svg.hd-overlay");
    if (!lines.length || !fl || !fl._size) { if (svg) svg.remove(); return; }
    if (!svg) {
      svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("class", "hd-overlay");
      div.style.position = "relative";
      div.appendChild(svg);
    }
    const size = fl._size;
    Object.assign(svg.style, { left: `${size.l}px`, top: `${size.t}px`, width: `${size.w}px`, height: `${size.h}px` });
    // the elements are kept and only their attributes change (an update moves a few path ends):
    // new elements would make the browser re-layer the page's paint, dear with many chart elements
    const paths = overlayPaths(lines, fl);
    const want = [...paths.map((p) => ["path", p]), ...paths.filter((p) => p.head).map((p) => ["circle", p])];
    while (svg.childNodes.length > want.length) svg.lastChild.remove();
    want.forEach(([tag, p], i) => {
      let node = svg.childNodes[i];
      if (!node || node.nodeName !== tag) {
        const fresh = document.createElementNS(SVG_NS, tag);
        fresh.appendChild(document.createElementNS(SVG_NS, "title"));
        if (node) svg.replaceChild(fresh, node); else svg.appendChild(fresh);
        node = fresh;
      }
      const attrs = tag === "path"
        ? { d: p.d, stroke: p.stroke, "stroke-width": p.width, "stroke-opacity": p.opacity, "stroke-dasharray": p.dasharray || null }
        // the running runs' latest points, on top of every line
        : { class: "hd-head", cx: p.head[0], cy: p.head[1], r: 3.2, fill: p.stroke, stroke: theme.bg1, "stroke-width": 1 };
      attrs["data-run"] = p.id;
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null) { if (node.hasAttribute(k)) node.removeAttribute(k); } else if (node.getAttribute(k) !== String(v)) node.setAttribute(k, String(v));
      }
      if (node.firstChild.textContent !== p.title) node.firstChild.textContent = p.title;
    });
    svg.dataset.lines = String(lines.length);
  }
  // the running runs' markers over the time chart (many runs): diamonds, as the chart's own Running markers
  let timeMarkers = [];
  function drawMarkers() {
    const fl = ui.time._fullLayout;
    let svg = ui.time.querySelector("svg.hd-overlay");
    if (!timeMarkers.length || !fl || !fl._size) { if (svg) svg.remove(); return; }
    if (!svg) {
      svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("class", "hd-overlay");
      ui.time.style.position = "relative";
      ui.time.appendChild(svg);
    }
    const size = fl._size;
    Object.assign(svg.style, { left: `${size.l}px`, top: `${size.t}px`, width: `${size.w}px`, height: `${size.h}px` });
    while (svg.childNodes.length > timeMarkers.length) svg.lastChild.remove();
    timeMarkers.forEach((m, i) => {
      let node = svg.childNodes[i];
      if (!node) {
        node = svg.appendChild(document.createElementNS(SVG_NS, "path"));
        node.appendChild(document.createElementNS(SVG_NS, "title"));
        node.setAttribute("class", "hd-marker");
      }
      const x = fl.xaxis.l2p(m.x), y = fl.yaxis.l2p(m.y);
      const d = `M${x.toFixed(1)},${(y - 5).toFixed(1)}l5,5l-5,5l-5,-5z`;
      if (node.getAttribute("d") !== d) node.setAttribute("d", d);
      if (node.dataset.fill !== m.color + theme.bg1) {
        node.dataset.fill = m.color + theme.bg1;
        Object.assign(node.style, { fill: m.color, stroke: theme.bg1, strokeWidth: "1" });
      }
      if (node.getAttribute("data-run") !== m.id) node.setAttribute("data-run", m.id);
      if (node.firstChild.textContent !== m.title) node.firstChild.textContent = m.title;
    });
    svg.dataset.markers = String(timeMarkers.length);
  }
  for (const div of [ui.curves, ui.parcoords, ui.time]) {
    div.addEventListener("click", (ev) => {
      const path = ev.target.closest && ev.target.closest("svg.hd-overlay [data-run]");
      if (path) select(path.dataset.run);
    });
  }

  function markAll() { pending.full = true; }

  function drawControls() {
    const names = metricNames(state);
    if (!view.metric || !names.includes(view.metric)) view.metric = state.meta ? state.meta.primary : names[0];
    const options = names.map((n) => `<option value="${esc(n)}"${n === view.metric ? " selected" : ""}>${esc(n)}</option>`).join("");
    if (ui.metric.__hd !== options) { ui.metric.__hd = options; ui.metric.innerHTML = options; }
    const axes = (state.meta && state.meta.axes) || [];
    const choices = [["", "auto"], ["metric", `best ${(state.meta && state.meta.primary) || "metric"}`],
      ...axes.map((a) => [`p:${a.name}`, a.log ? `${a.name} (log)` : a.name])];
    if (!choices.some(([v]) => v === view.colourBy)) view.colourBy = "";
    const colourOptions = choices.map(([v, label]) => `<option value="${esc(v)}"${v === view.colourBy ? " selected" : ""}>${esc(label)}</option>`).join("");
    if (ui.colourBy.__hd !== colourOptions) { ui.colourBy.__hd = colourOptions; ui.colourBy.innerHTML = colourOptions; }
    const running = state.header && !TERMINAL.has(state.header.status);
    ui.cancelExp.disabled = !running;
    const sel = view.selected && state.runs[view.selected];
    ui.cancelRun.disabled = !(running && sel && !TERMINAL.has(sel.status));
    const via = rest === false
      ? " (no hdnotebook server extension here: the kernel acts on it once the running cell ends)" : "";
    ui.cancelExp.title = `cancel the whole experiment${via}`;
    ui.cancelRun.title = (sel ? `cancel run #${sel.number}` : "select a running run in the table") + via;
    ui.cancelExp.textContent = rest === false ? "Cancel experiment (after the running cell)" : "Cancel experiment";
  }

  function chartWidth() {
    return Math.max(200, Math.floor(ui.charts.clientWidth));
  }

  // draw one chart: nothing if unchanged, extendTraces if only points were added at the end of its
  // own traces, a full Plotly.react otherwise
  function plot(div, fig, label) {
    div.setAttribute("aria-label", label);
    div.style.height = `${fig.layout.height}px`;
    const sig = signature(fig);
    const old = drawn.get(div);
    if (old && old.sig === sig && div.data && div.data.length === fig.data.length) {
      const idx = [], xs = [], ys = [], texts = [], ids = [];
      let same = true;
      fig.data.forEach((t, i) => {
        const cur = div.data[i];
        if (!t.x || t.x.length === cur.x.length) {
          if (t.y && t.y.length && t.y[t.y.length - 1] !== cur.y[cur.y.length - 1]) same = false;
          return;
        }
        if (t.x.length < cur.x.length || String(t.meta).includes("|")) { same = false; return; }
        idx.push(i);
        xs.push(t.x.slice(cur.x.length)); ys.push(t.y.slice(cur.y.length));
        texts.push(t.text.slice(cur.x.length)); ids.push(t.customdata.slice(cur.x.length));
      });
      if (same && !idx.length) return "unchanged";
      if (same) {
        Plotly.extendTraces(div, { x: xs, y: ys, text: texts, customdata: ids }, idx);
        return "extended";
      }
    }
    Plotly.react(div, fig.data, fig.layout, PLOT_CONFIG);
    drawn.set(div, { sig });
    return "redrawn";
  }

  function draw() {
    timer = null;
    if (!alive) return;
    if (!el.isConnected) { timer = setTimeout(draw, MIN_DRAW_MS); return; } // not on the page yet
    const t0 = performance.now();
    lastDraw = Date.now();
    if (!theme) theme = readTheme(el);
    drawHeader(ui, state);
    drawControls();
    steer.update();
    if (!state.meta) return;
    if (!Plotly) { // first draw: evaluate plotly, then draw
      timer = -1;
      loadPlotly().then((P) => { Plotly = P; timer = null; draw(); });
      return;
    }
    const work = pending;
    pending = { runs: new Set(), points: new Set(), full: false };
    const height = model.get("height") || 300;
    const width = chartWidth();
    observedWidth = width;
    const how = {};
    const parts = {};
    let tp = performance.now();
    const lap = (name) => { const t = performance.now(); parts[name] = Math.round(t - tp); tp = t; };
    const runsChanged = work.full || work.runs.size > 0;
    // the secondary charts: at once on a full draw or when the experiment's status changed (they
    // are final then), else at most every SECONDARY_MS (and SECONDARY_IDLE times their cost), and
    // only while on screen: one scrolled away is drawn when it comes back into view
    const secondaryGap = Math.max(SECONDARY_MS, SECONDARY_IDLE * lastSecondaryMs);
    const status = state.header ? state.header.status : "";
    const forced = work.full || status !== lastStatus;
    const secondaryDue = forced || state.order.length <= 100 || Date.now() - lastSecondary >= secondaryGap;
    lastStatus = status;
    if (runsChanged) { for (const id of work.full ? state.order : work.runs) secondaryRuns.add(id); }
    const onScreen = forced || state.order.length <= 100 || [ui.parcoords, ui.time].some((div) => seen.get(div) !== false);
    if (secondaryRuns.size && secondaryDue && onScreen) {
      lastSecondary = Date.now();
      const ts = performance.now();
      secondaryRuns.clear();
      if (drawParcoords(width)) work.full = true; // the brush changed what is shown
      lap("parcoords");
      // the time chart; with many runs the running runs' markers are an overlay (the figure stays put)
      const fig = metricOverTime(state, view.selected, Math.round(height * 0.8), theme, width, true);
      how.time = plot(ui.time, fig, `${(state.meta || {}).primary} of each run over time, and the best so far`);
      timeMarkers = fig.overlay;
      drawMarkers();
      if (!work.full) lastSecondaryMs = performance.now() - ts;
    }
    if (secondaryRuns.size && onScreen && !secondaryTimer) { // changes not drawn yet: come back for them
      secondaryTimer = setTimeout(() => { secondaryTimer = null; schedule(); },
        Math.max(0, Math.max(SECONDARY_MS, SECONDARY_IDLE * lastSecondaryMs) - (Date.now() - lastSecondary)));
    }
    el.dataset.secondaryPending = String(secondaryRuns.size);
    lap("time");
    const colouring = curveColouring(state, view.colourBy);
    view.colorOf = (row) => runColor(row, colouring, theme);
    const [shown, drawn] = renderTable(ui.table, state, view, work.full ? null : work.runs);
    ui.shown.textContent = `${shown} of ${state.order.length} runs shown` + (drawn < shown ? ` (the first ${drawn} in the table)` : "");
    ui.showAll.hidden = drawn >= shown && !view.allRows;
    ui.showAll.textContent = view.allRows ? "table: first 200 only" : `table: show all ${shown}`;
    runDetail.fill();
    lap("table");
    if (runsChanged || work.points.size) {
      const fig = learningCurves(state, view.metric, view.selected, height, theme, width, view.brushed, curvesCache, view.colourBy);
      const told = { run: "one colour per run", metric: "coloured by its best value", param: `coloured by ${fig.colouring.name}` }[fig.colouring.mode];
      how.curves = plot(ui.curves, fig, `learning curves of ${view.metric}: one line per run, ${told}`);
      ui.curves.dataset.colour = fig.colouring.mode === "param" ? `p:${fig.colouring.name}` : fig.colouring.mode;
      overlayLines = fig.overlay;
      drawOverlay();
      drawLegend(ui, fig.colouring, theme, view.metric, (state.meta || {}).goal);
    }
    lap("curves");
    // the insight panel: redrawn when runs finish (it keeps its own signature), while on screen, in a
    // task of its own after this draw (the charts above it show first)
    if (runsChanged) insightDirty = true;
    drawInsightSoon(forced);
    bindPlotClicks();
    draws += 1;
    el.dataset.draws = String(draws);
    el.dataset.runs = String(state.order.length);
    el.dataset.status = state.header ? state.header.status : "";
    const ms = performance.now() - t0;
    el.dataset.drawMs = String(Math.round(ms));
    if (!work.full) lastUpdateMs = ms;
    // a log of the last draws, for the benchmark: synchronous time, and time until the next frame
    const entry = { at: t0, ms, full: work.full, curves: how.curves || "", painted: null, parts };
    const log = el.hdDrawLog || (el.hdDrawLog = []);
    log.push(entry);
    if (log.length > 500) log.shift();
    requestAnimationFrame(() => setTimeout(() => { entry.painted = performance.now() - t0; }));
    el.dataset.curves = how.curves || "";
    el.dataset.dimmed = theme.dimmed;
    el.dataset.seq = String(shared.seq);
  }

  // with many runs finishing while the experiment runs, it follows as the secondary charts do: at
  // most every SECONDARY_MS, and SECONDARY_IDLE times its cost (`now`: a full draw, or the end)
  let insightTimer = null;
  let lastInsight = 0;
  let lastInsightMs = 0;
  function drawInsightSoon(now = false) {
    if (!insightDirty || seen.get(insightBox) === false) return;
    const live = state.header && !TERMINAL.has(state.header.status);
    const wait = now || !live || state.order.length <= 100 ? 0
      : Math.max(0, Math.max(SECONDARY_MS, SECONDARY_IDLE * lastInsightMs) - (Date.now() - lastInsight));
    if (insightTimer && !now) return;
    if (insightTimer) clearTimeout(insightTimer);
    insightTimer = setTimeout(() => {
      insightTimer = null;
      if (!alive || !Plotly || !el.isConnected || !theme) return;
      insightDirty = false;
      const ts = performance.now();
      insight.draw(Plotly, state, theme, chartWidth());
      lastInsight = Date.now();
      lastInsightMs = performance.now() - ts;
      el.dataset.insightMs = String(Math.round(lastInsightMs));
    }, wait);
  }

  // many runs: the merged background of the parallel coordinates (rebuilt only when a run in it changed)
  const pcCache = {};
  let pcDrawn = null; // [data, layout signature] last given to plotly
  function drawParcoords(width) {
    pc = parallelCoordinates(state, view.selected, model.get("height") || 300, view.brushes, theme, width || chartWidth(),
      curveColouring(state, view.colourBy), pcCache);
    ui.parcoords.style.height = `${pc.layout.height}px`;
    // a streaming update changes only the overlay's lines: the plotly figure is left as it was
    const sig = JSON.stringify(pc.layout);
    if (!pcDrawn || pcDrawn[0] !== pc.data || pcDrawn[1] !== sig || !ui.parcoords.data) {
      Plotly.react(ui.parcoords, pc.data, pc.layout, PLOT_CONFIG);
      pcDrawn = [pc.data, sig];
      ui.parcoords.dataset.redrawn = String(Number(ui.parcoords.dataset.redrawn || 0) + 1);
    }
    drawOverlay(ui.parcoords, pc.overlay);
    const before = view.brushed ? [...view.brushed].join() : null;
    view.brushed = pc.inside;
    const changed = (pc.inside ? [...pc.inside].join() : null) !== before;
    const total = state.order.length;
    ui.brushNote.textContent = pc.inside
      ? `${pc.inside.size} of ${total} runs selected (table and curves show only these) \u00b7 click an axis to clear its brush`
      : "drag vertically on an axis to select runs";
    ui.parcoords.dataset.brushed = pc.inside ? String(pc.inside.size) : "";
    return changed;
  }

  function schedule(now = false) {
    if (timer !== null) return;
    // a big experiment takes long to draw: leave the page idle IDLE_PER_DRAW times as long between draws
    // (the time of the last draw that was not a full one: a first draw is much dearer; at most 2 s)
    const gap = now ? 0 : Math.min(2000, Math.max(MIN_DRAW_MS, IDLE_PER_DRAW * lastUpdateMs));
    timer = setTimeout(draw, Math.max(0, gap - (Date.now() - lastDraw)));
  }
  function redrawAll() { markAll(); if (timer !== null && timer !== -1) { clearTimeout(timer); timer = null; } if (timer === null) draw(); }

  function onChange(msg) {
    if (!msg || msg.type === "snapshot") markAll();
    else {
      for (const r of msg.runs || []) pending.runs.add(r.id);
      for (const [id] of msg.points || []) pending.points.add(id);
      if (msg.meta) markAll();
    }
    schedule();
  }
  shared.listeners.add(onChange);

  // the selection lives on the model (`selected_run`): every view and Python see it
  function onSelected() { view.selected = model.get("selected_run") || null; redrawAll(); }
  model.on("change:selected_run", onSelected);
  model.on("change:height", redrawAll);
  function select(id) {
    model.set("selected_run", view.selected === id ? null : id);
    model.save_changes(); // the model's change event redraws every view
  }

  function sortBy(key) {
    view.sortDir = view.sortKey === key ? -view.sortDir : 1;
    view.sortKey = key;
    redrawAll();
    const th = ui.table.querySelector(`th[data-key="${CSS_escape(key)}"]`);
    if (th) th.focus();
  }
  ui.table.addEventListener("click", (ev) => {
    const th = ev.target.closest("th");
    if (th) { sortBy(th.dataset.key); return; }
    if (ev.target.closest(".hd-expand")) { toggle(ev.target.closest("tr[data-run]").dataset.run); return; }
    const tr = ev.target.closest("tr[data-run]");
    if (tr && !window.getSelection().toString()) select(tr.dataset.run);
  });
  ui.table.addEventListener("keydown", (ev) => {
    const th = ev.target.closest("th");
    const tr = ev.target.closest("tr[data-run]");
    if ((ev.key === "Enter" || ev.key === " ") && th) { ev.preventDefault(); sortBy(th.dataset.key); }
    else if (ev.key === "Enter" && tr) { ev.preventDefault(); select(tr.dataset.run); focusRow(tr.dataset.run); }
    else if ((ev.key === "ArrowRight" || ev.key === "ArrowLeft") && tr) {
      ev.preventDefault();
      if (view.expanded.has(tr.dataset.run) !== (ev.key === "ArrowRight")) toggle(tr.dataset.run);
    } else if ((ev.key === "ArrowDown" || ev.key === "ArrowUp") && tr) {
      ev.preventDefault();
      let next = ev.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      while (next && !next.dataset.run) next = ev.key === "ArrowDown" ? next.nextElementSibling : next.previousElementSibling;
      if (next) next.focus();
    }
  });
  function focusRow(id) { const tr = ui.table.querySelector(`tr[data-run="${CSS_escape(id)}"]`); if (tr) tr.focus(); }
  function toggle(id) {
    if (view.expanded.has(id)) view.expanded.delete(id); else view.expanded.add(id);
    redrawAll();
    focusRow(id);
  }
  ui.filter.addEventListener("change", () => { view.statusFilter = ui.filter.value; redrawAll(); });
  ui.showAll.addEventListener("click", () => { view.allRows = !view.allRows; redrawAll(); });
  ui.metric.addEventListener("change", () => { view.metric = ui.metric.value; redrawAll(); });
  ui.colourBy.addEventListener("change", () => { view.colourBy = ui.colourBy.value; redrawAll(); });

  // cancel: over REST where the hdnotebook server extension answers (acts while the kernel is busy),
  // else through the kernel (acts when the running cell ends: the button says so)
  const restTarget = model.get("_rest") || {};
  if (restTarget.workspace) {
    restRequest(restTarget, restTarget.run, "GET").then((res) => { rest = res.ok; drawControls(); }, () => { rest = false; drawControls(); });
  } else {
    rest = false;
  }
  async function cancel(runId, what) {
    ui.cancelNote.textContent = `cancelling ${what}\u2026`;
    if (rest !== false) {
      try {
        const res = await restRequest(restTarget, runId, "POST", { reason: `canceled from RunDetails` });
        const body = await res.json().catch(() => ({}));
        ui.cancelNote.textContent = res.status === 202 ? `cancel of ${what} requested`
          : `${what}: ${body.message || res.statusText}`;
        el.dataset.cancel = res.status === 202 ? "rest" : `rest-${res.status}`;
        return;
      } catch (e) { /* fall back to the kernel */ }
    }
    model.send(runId === restTarget.run || !restTarget.run && what === "the experiment"
      ? { type: "cancel_experiment" } : { type: "cancel_run", run_id: runId });
    ui.cancelNote.textContent = `cancel of ${what} sent to the kernel: it acts once the running cell ends`;
    el.dataset.cancel = "kernel";
  }
  ui.cancelRun.addEventListener("click", () => {
    const sel = view.selected && state.runs[view.selected];
    if (!sel) return;
    ui.cancelRun.disabled = true;
    cancel(sel.id, `run #${sel.number}`);
  });
  ui.cancelExp.addEventListener("click", () => {
    ui.cancelExp.disabled = true;
    cancel(restTarget.run || (state.meta && state.meta.parent_id), "the experiment");
  });

  // a click on a line or point selects its run (plotly emits on the chart div once drawn)
  function bindPlotClicks() {
    for (const div of [ui.curves, ui.parcoords, ui.time]) {
      if (div.on && !div.__hdBound) {
        div.__hdBound = true;
        if (div === ui.curves) div.on("plotly_afterplot", () => drawOverlay());
        if (div === ui.parcoords) div.on("plotly_afterplot", () => pc && drawOverlay(ui.parcoords, pc.overlay));
        if (div === ui.time) div.on("plotly_afterplot", () => drawMarkers());
        div.on("plotly_click", (ev) => {
          const id = ev && ev.points && ev.points[0] && ev.points[0].customdata;
          if (brushDrag && (brushDrag.clears || brushDrag.moved)) return; // it drew or cleared a brush
          if (typeof id === "string" && id in state.runs) select(id);
        });
      }
    }
  }

  // brushing: drag vertically on a parallel-coordinates axis to select a range on it; a click on
  // the axis (no drag) clears it. Plotly still gets the events: its drags do nothing here (fixed
  // ranges) and a click on a line still selects the run, unless the click clears a brush.
  let brushDrag = null;
  function pcHit(ev) { // the axis (index, or -1) near the pointer and the position [0, 1] on it
    const size = ui.parcoords._fullLayout && ui.parcoords._fullLayout._size;
    if (!pc || !size) return null;
    const box = ui.parcoords.getBoundingClientRect();
    const [x0, x1] = pc.layout.xaxis.range;
    const [y0, y1] = pc.layout.yaxis.range;
    const px = ev.clientX - box.left - size.l;
    const py = ev.clientY - box.top - size.t;
    const y = y0 + (1 - py / size.h) * (y1 - y0);
    const k = Math.round(x0 + (px / size.w) * (x1 - x0));
    const near = k >= 0 && k < pc.axes.length && Math.abs(px - ((k - x0) / (x1 - x0)) * size.w) <= 10 && py >= -10 && py <= size.h + 10;
    return { k: near ? k : -1, y: Math.min(1, Math.max(0, y)) };
  }
  let brushFrame = 0;
  function brushMove(ev) {
    if (!brushDrag.moved && Math.abs(ev.clientY - brushDrag.clientY) < 3) return;
    brushDrag.moved = true;
    const axis = pc.axes.find((a) => a.key === brushDrag.key);
    const hit = pcHit(ev);
    if (!axis || !hit) return;
    const b = brushFromPos(axis, Math.min(brushDrag.y, hit.y), Math.max(brushDrag.y, hit.y));
    if (b) view.brushes[brushDrag.key] = b; else delete view.brushes[brushDrag.key];
    if (!brushFrame) brushFrame = requestAnimationFrame(() => { brushFrame = 0; if (alive && drawParcoords()) { markAll(); schedule(); } });
  }
  function brushEnd() {
    window.removeEventListener("mousemove", brushMove, true);
    window.removeEventListener("mouseup", brushEnd, true);
    if (!brushDrag.moved) delete view.brushes[brushDrag.key];
    // after plotly's own mouseup, which emits the click the handler below checks against brushDrag
    const done = brushDrag;
    setTimeout(() => { // then the table, the curves and the note follow
      if (brushDrag === done) brushDrag = null;
      if (done.moved || done.clears) redrawAll();
    });
  }
  ui.parcoords.addEventListener("mousedown", (ev) => {
    const hit = ev.button === 0 && pcHit(ev);
    if (!hit || hit.k < 0) return;
    ev.preventDefault(); // no text selection
    const key = pc.axes[hit.k].key;
    brushDrag = { key, y: hit.y, clientY: ev.clientY, moved: false, clears: key in view.brushes };
    window.addEventListener("mousemove", brushMove, true);
    window.addEventListener("mouseup", brushEnd, true);
  }, true);
  ui.parcoords.addEventListener("mousemove", (ev) => { // an up-down cursor over an axis
    const drag = ui.parcoords.querySelector(".nsewdrag");
    const hit = !brushDrag && pcHit(ev);
    if (drag && !brushDrag) drag.style.cursor = hit && hit.k >= 0 ? "ns-resize" : "";
  });

  // every chart as wide as its box: a ResizeObserver (window resizes, a sidebar that opens, VS Code)
  let observedWidth = 0;
  let resizeFrame = 0;
  const resizer = new ResizeObserver(() => {
    if (resizeFrame) return;
    resizeFrame = requestAnimationFrame(() => {
      resizeFrame = 0;
      const w = chartWidth();
      if (!alive || !Plotly || !el.isConnected || w === observedWidth) return;
      observedWidth = w;
      redrawAll();
    });
  });
  resizer.observe(ui.charts);
  if (visibility) for (const div of [ui.parcoords, ui.time, insightBox]) visibility.observe(div);

  // the theme: colours are read from JupyterLab's CSS variables again when it changes
  const unwatchTheme = watchTheme(() => {
    // the new theme's CSS may load a moment after the attribute flips: re-read now and again after it
    for (const wait of [0, 400]) setTimeout(() => { if (alive && el.isConnected) { theme = readTheme(el); redrawAll(); } }, wait);
  });

  // the elapsed time and running durations tick while the experiment runs
  // (not when a draw just did it: each change of the page is a paint of it, and while runs stream
  // draws come about every second anyway)
  const ticker = setInterval(() => {
    if (state.header && !TERMINAL.has(state.header.status) && el.isConnected && Date.now() - lastDraw >= 900) {
      drawHeader(ui, state);
      tickDurations(ui.table, state);
    }
  }, 1000);

  schedule(true); // draw what the model has (the snapshot came with the widget)

  return () => {
    alive = false;
    shared.listeners.delete(onChange);
    model.off("change:selected_run", onSelected);
    model.off("change:height", redrawAll);
    clearInterval(ticker);
    resizer.disconnect();
    if (visibility) visibility.disconnect();
    unwatchTheme();
    if (timer !== null && timer !== -1) clearTimeout(timer);
    if (secondaryTimer) clearTimeout(secondaryTimer);
    if (insightTimer) clearTimeout(insightTimer);
    if (brushFrame) cancelAnimationFrame(brushFrame);
    if (resizeFrame) cancelAnimationFrame(resizeFrame);
    if (Plotly) for (const div of [ui.curves, ui.parcoords, ui.time]) Plotly.purge(div);
  };
}

// ---- the same view without a kernel: the sidebar's experiment tab and the /hdnotebook page ----------
// `el` shows the experiment run `run` of workspace `workspace` (ids of the server extension's API),
// from the server's copy of the view model (js/src/rest_model.js); returns {model, dispose, refresh}.
export function mountRunView(el, { workspace, run, interval = 1000 }) {
  const model = createRestModel({ workspace, run, interval, visible: () => el.isConnected && el.getClientRects().length > 0 });
  el.hdRestModel = model; // its stats, for tests
  el.classList.add("hdnotebook-rundetails");
  el.innerHTML = `<div class="hd-title">RunDetails: loading\u2026</div>`;
  // a failed poll says so on the view (cleared by the next one that works)
  const showError = (e) => {
    let box = el.querySelector(".hd-rest-error");
    if (!box) { box = document.createElement("div"); box.className = "hd-rest-error hd-warning"; box.setAttribute("role", "status"); el.prepend(box); }
    box.hidden = !e;
    box.textContent = e ? `the hdnotebook server extension did not answer: ${e.message || e} (trying again)` : "";
  };
  model.on("error", showError);
  model.on("ok", () => showError(null));
  let ends = [];
  let disposed = false;
  model.ready.then(() => {
    if (disposed) return;
    const endInit = initialize({ model });
    const endRender = render({ model, el });
    ends = [endRender, endInit];
    el.dataset.source = "rest";
  }, () => {});
  return {
    model,
    refresh: () => model.refresh(),
    dispose() {
      disposed = true;
      model.off("error", showError);
      for (const end of ends) if (typeof end === "function") end();
      model.close();
    },
  };
}

function CSS_escape(s) {
  return window.CSS && window.CSS.escape ? window.CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
}

export default { initialize, render };
