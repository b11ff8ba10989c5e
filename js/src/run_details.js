// RunDetails front end (anywidget ESM): header, runs table, learning curves, parallel coordinates and
// the primary metric over time, fed by "snapshot" and "update" custom messages from the kernel.
import { CSS } from "./style.js";
import { STATUS_COLORS, TERMINAL, applyMessage, createState, fmt, fmtSeconds, metricNames, nowServer, shortId } from "./state.js";
import { renderTable } from "./table.js";
import { learningCurves, metricOverTime, parallelCoordinates } from "./charts.js";

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
      <div class="hd-chart hd-parcoords"></div>
      <div class="hd-chart hd-time"></div>
    </div>`;
  const q = (s) => el.querySelector(s);
  return {
    title: q(".hd-title"), bar: q(".hd-bar"), progress: q(".hd-progress-text"), stats: q(".hd-stats"), warning: q(".hd-warning"),
    filter: q(".hd-filter"), metric: q(".hd-metric"), cancelRun: q(".hd-cancel-run"), cancelExp: q(".hd-cancel-exp"),
    shown: q(".hd-shown"), table: q(".hd-table"), curves: q(".hd-curves"), parcoords: q(".hd-parcoords"), time: q(".hd-time"),
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
  const view = { sortKey: "number", sortDir: 1, statusFilter: "", selected: null, metric: null };
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
    const shown = renderTable(ui.table, state, view);
    ui.shown.textContent = `${shown} of ${state.order.length} runs shown`;
    const height = model.get("height") || 300;
    const figs = [
      [ui.curves, learningCurves(state, view.metric, view.selected, height)],
      [ui.parcoords, parallelCoordinates(state, view.selected, height)],
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
          if (typeof id === "string" && id in state.runs) select(id);
        });
      }
    }
  }

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
    if (Plotly) for (const div of [ui.curves, ui.parcoords, ui.time]) Plotly.purge(div);
  };
}

export default { render };
