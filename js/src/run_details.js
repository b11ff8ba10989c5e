// RunDetails front end (anywidget ESM): header, runs table, learning curves, parallel coordinates and
// the primary metric over time, fed by "snapshot" and "update" custom messages from the kernel.
import { CSS } from "./style.js";
import { STATUS_COLORS, TERMINAL, applyMessage, createState, fmt, fmtSeconds, metricNames, nowServer, shortId } from "./state.js";
import { renderTable } from "./table.js";
import { brushFromPos, learningCurves, metricOverTime, parallelCoordinates } from "./charts.js";

// plotly is bundled in, but evaluated only when the first chart is drawn: anywidget gives a module
// 2 s to load, and evaluating plotly takes about that long in a slow browser
let plotly = null;
function loadPlotly() {
  if (!plotly) plotly = import("plotly.js-dist-min").then((m) => m.default || m);
  return plotly;
}

const MIN_DRAW_MS = 250; // at most 4 redraws a second, however fast messages come
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function skeleton(el) {
  el.classList.add("hdnotebook-rundetails");
  el.innerHTML = `
    <style>${CSS}</style>
    <div class="hd-header">
      <div class="hd-title">RunDetails: loading\u2026</div>
      <div class="hd-progress"><div class="hd-bar"></div><span class="hd-progress-text"></span></div>
      <div class="hd-stats"></div>
      <div class="hd-warning" hidden></div>
    </div>
    <div class="hd-controls">
      <label>status <select class="hd-filter"><option value="">all</option>
        ${Object.keys(STATUS_COLORS).map((s) => `<option value="${s}">${s}</option>`).join("")}</select></label>
      <label>curves of <select class="hd-metric"></select></label>
      <button class="hd-cancel-run" disabled title="select a running run in the table">Cancel selected run</button>
      <button class="hd-cancel-exp" disabled>Cancel experiment</button>
      <span class="hd-shown"></span>
    </div>
    <div class="hd-table-wrap"><table class="hd-table"></table></div>
    <div class="hd-charts">
      <div class="hd-chart hd-curves"></div>
      <div class="hd-brush-bar"><span class="hd-brush-note"></span>
        <label hidden><input type="checkbox" class="hd-brush-only"> table: selected runs only</label></div>
      <div class="hd-chart hd-parcoords"></div>
      <div class="hd-chart hd-time"></div>
    </div>`;
  const q = (s) => el.querySelector(s);
  return {
    title: q(".hd-title"), bar: q(".hd-bar"), progress: q(".hd-progress-text"), stats: q(".hd-stats"), warning: q(".hd-warning"),
    filter: q(".hd-filter"), metric: q(".hd-metric"), cancelRun: q(".hd-cancel-run"), cancelExp: q(".hd-cancel-exp"),
    shown: q(".hd-shown"), table: q(".hd-table"), curves: q(".hd-curves"), parcoords: q(".hd-parcoords"), time: q(".hd-time"),
    brushNote: q(".hd-brush-note"), brushOnly: q(".hd-brush-only"),
  };
}

function drawHeader(ui, state) {
  const meta = state.meta;
  const h = state.header;
  if (!meta || !h) return;
  const color = STATUS_COLORS[h.status] || "#555";
  ui.title.innerHTML = `Experiment <b>${esc(meta.experiment)}</b> \u00b7 run <code>${esc(meta.parent_id)}</code> ` +
    `<span class="hd-badge hd-experiment-status" style="background:${color}">${esc(h.status)}</span>`;
  const total = h.total || Math.max(h.runs, 1);
  const counts = h.counts || {};
  ui.bar.innerHTML = ["Completed", "Canceled", "Failed", "Running"].map((s) =>
    `<div class="hd-fill" style="width:${(100 * (counts[s] || 0)) / total}%;background:${STATUS_COLORS[s]}" title="${s} ${counts[s] || 0}"></div>`).join("");
  const parts = [`${h.finished}/${total} runs finished`];
  if (counts.Running) parts.push(`${counts.Running} running`);
  if (counts.Queued) parts.push(`${counts.Queued} queued`);
  if (counts.Failed) parts.push(`${counts.Failed} failed`);
  ui.progress.textContent = parts.join(" \u00b7 ");
  const stats = [];
  if (h.started) stats.push(`elapsed ${fmtSeconds((h.ended || nowServer(state)) - h.started)}`);
  if (h.best !== null && h.best !== undefined) {
    stats.push(`best ${esc(meta.primary)} (${meta.goal}) = <b>${esc(fmt(h.best))}</b> in run ${esc(shortId(h.best_run))}`);
  }
  if (h.stopped_early) {
    stats.push(`${h.stopped_early} run${h.stopped_early > 1 ? "s" : ""} stopped early \u00b7 ~${Math.round(100 * h.saved_fraction)} % compute saved ` +
      `(${h.saved_intervals} intervals not run vs the longest run's ${h.longest})`);
  }
  if (meta.policy) stats.push(`policy ${esc(meta.policy)}`);
  ui.stats.innerHTML = stats.join(" \u00b7 ");
  const warn = [h.warning, h.error].filter(Boolean).join(" \u2014 ");
  ui.warning.hidden = !warn;
  ui.warning.textContent = warn;
}

function render({ model, el }) {
  const state = createState();
  // brushes: {axis key: {lo, hi} | {cats}} in data units; brushed: the ids inside them all, or null
  const view = { sortKey: "number", sortDir: 1, statusFilter: "", selected: null, metric: null,
    brushes: {}, brushed: null, brushOnly: false };
  let pc = null; // the parallel-coordinates figure last drawn (its axes map pointer positions to brushes)
  const ui = skeleton(el);
  let lastDraw = 0;
  let timer = null;
  let draws = 0;
  let alive = true;

  function drawControls() {
    const names = metricNames(state);
    if (!view.metric || !names.includes(view.metric)) view.metric = state.meta ? state.meta.primary : names[0];
    const options = names.map((n) => `<option value="${esc(n)}"${n === view.metric ? " selected" : ""}>${esc(n)}</option>`).join("");
    if (ui.metric.innerHTML !== options) ui.metric.innerHTML = options;
    const running = state.header && !TERMINAL.has(state.header.status);
    ui.cancelExp.disabled = !running;
    const sel = view.selected && state.runs[view.selected];
    ui.cancelRun.disabled = !(running && sel && !TERMINAL.has(sel.status));
  }

  let Plotly = null;

  function draw() {
    timer = null;
    if (!alive) return;
    if (!el.isConnected) { timer = setTimeout(draw, MIN_DRAW_MS); return; } // not on the page yet
    const t0 = performance.now();
    lastDraw = Date.now();
    drawHeader(ui, state);
    drawControls();
    if (!state.meta) return;
    if (!Plotly) { // first draw: evaluate plotly, then draw
      timer = -1;
      loadPlotly().then((P) => { Plotly = P; timer = null; draw(); });
      return;
    }
    const height = model.get("height") || 300;
    drawParcoords(); // first: it finds the brushed runs the table may show
    const shown = renderTable(ui.table, state, view);
    ui.shown.textContent = `${shown} of ${state.order.length} runs shown`;
    const figs = [
      [ui.curves, learningCurves(state, view.metric, view.selected, height)],
      [ui.time, metricOverTime(state, view.selected, Math.round(height * 0.8))],
    ];
    for (const [div, fig] of figs) Plotly.react(div, fig.data, fig.layout, PLOT_CONFIG);
    bindPlotClicks();
    draws += 1;
    el.dataset.draws = String(draws);
    el.dataset.runs = String(state.order.length);
    el.dataset.status = state.header ? state.header.status : "";
    el.dataset.drawMs = String(Math.round(performance.now() - t0));
  }

  function drawParcoords() {
    pc = parallelCoordinates(state, view.selected, model.get("height") || 300, view.brushes);
    Plotly.react(ui.parcoords, pc.data, pc.layout, PLOT_CONFIG);
    view.brushed = pc.inside;
    const total = state.order.length;
    ui.brushNote.textContent = pc.inside
      ? `${pc.inside.size} of ${total} runs selected \u00b7 click an axis to clear its brush`
      : "drag vertically on an axis to select runs";
    ui.brushOnly.parentElement.hidden = !pc.inside;
    ui.parcoords.dataset.brushed = pc.inside ? String(pc.inside.size) : "";
  }

  function schedule() {
    if (timer !== null) return;
    // a big experiment takes long to draw: leave the page at least as long idle between draws
    const gap = Math.max(MIN_DRAW_MS, 2 * (Number(el.dataset.drawMs) || 0));
    timer = setTimeout(draw, Math.max(0, gap - (Date.now() - lastDraw)));
  }

  function onMessage(msg) {
    if (applyMessage(state, msg)) schedule();
  }
  model.on("msg:custom", onMessage);

  // clicks: sort, select, filter, cancel
  ui.table.addEventListener("click", (ev) => {
    const th = ev.target.closest("th");
    if (th) {
      const key = th.dataset.key;
      view.sortDir = view.sortKey === key ? -view.sortDir : 1;
      view.sortKey = key;
      draw();
      return;
    }
    const tr = ev.target.closest("tr[data-run]");
    if (tr) select(tr.dataset.run);
  });
  function select(id) {
    view.selected = view.selected === id ? null : id;
    draw();
  }
  ui.filter.addEventListener("change", () => { view.statusFilter = ui.filter.value; draw(); });
  ui.metric.addEventListener("change", () => { view.metric = ui.metric.value; draw(); });
  ui.cancelRun.addEventListener("click", () => {
    if (!view.selected) return;
    model.send({ type: "cancel_run", run_id: view.selected });
    ui.cancelRun.disabled = true;
  });
  ui.cancelExp.addEventListener("click", () => {
    model.send({ type: "cancel_experiment" });
    ui.cancelExp.disabled = true;
  });
  // a click on a line or point selects its run (plotly emits on the chart div once drawn)
  function bindPlotClicks() {
    for (const div of [ui.curves, ui.parcoords, ui.time]) {
      if (div.on && !div.__hdBound) {
        div.__hdBound = true;
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
    if (!brushFrame) brushFrame = requestAnimationFrame(() => { brushFrame = 0; if (alive) drawParcoords(); });
  }
  function brushEnd() {
    window.removeEventListener("mousemove", brushMove, true);
    window.removeEventListener("mouseup", brushEnd, true);
    if (!brushDrag.moved) delete view.brushes[brushDrag.key];
    // after plotly's own mouseup, which emits the click the handler below checks against brushDrag
    const done = brushDrag;
    setTimeout(() => { // then the table and the note follow
      if (brushDrag === done) brushDrag = null;
      if (done.moved || done.clears) draw();
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
  ui.brushOnly.addEventListener("change", () => { view.brushOnly = ui.brushOnly.checked; draw(); });

  // the elapsed time ticks while the experiment runs
  const ticker = setInterval(() => {
    if (state.header && !TERMINAL.has(state.header.status) && el.isConnected) drawHeader(ui, state);
  }, 1000);

  model.send({ type: "snapshot" }); // everything so far; updates follow as they happen

  return () => {
    alive = false;
    model.off("msg:custom", onMessage);
    clearInterval(ticker);
    if (timer !== null) clearTimeout(timer);
    if (brushFrame) cancelAnimationFrame(brushFrame);
    if (Plotly) for (const div of [ui.curves, ui.parcoords, ui.time]) Plotly.purge(div);
  };
}

export default { render };
