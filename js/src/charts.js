// Plotly figures of the view state: learning curves, parallel coordinates, metric over time.
// Pure functions: state in, {data, layout} out. Everything is SVG (no WebGL), so many widgets in one
// notebook never run out of WebGL contexts and headless browsers draw them too.
import { STATUS_COLORS, fmt, hoverText, shortId } from "./state.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const BEST = "#e6a700";
const SELECTED = "#000000";
// above this many runs, lines of the same style are merged into one trace (null-separated)
export const MAX_TRACES = 100;

function baseLayout(title, height) {
  return {
    title: { text: title, font: { size: 13 }, x: 0.01, xanchor: "left" },
    height,
    margin: { l: 60, r: 20, t: 36, b: 40 },
    showlegend: false,
    hovermode: "closest",
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { size: 11 },
  };
}

function lineStyle(row, i, state, selected) {
  const head = state.header || {};
  if (row.id === selected) return { key: "selected", color: SELECTED, width: 4, opacity: 1 };
  if (row.id === head.best_run) return { key: "best", color: BEST, width: 3.5, opacity: 1 };
  if (row.stopped_early) return { key: "stopped", color: PALETTE[i % PALETTE.length], width: 1.2, opacity: 0.25, merged: "#999999" };
  if (row.status === "Failed") return { key: "failed", color: STATUS_COLORS.Failed, width: 1.2, opacity: 0.5 };
  return { key: "normal", color: PALETTE[i % PALETTE.length], width: 1.5, opacity: 0.85, merged: "#1f77b4" };
}

const Z = { dimmed: -1, stopped: 0, failed: 1, normal: 2, best: 3, selected: 4 };
// a parallel-coordinates line outside the brushes
const DIMMED = { key: "dimmed", color: "#cccccc", width: 1, opacity: 0.5, merged: "#cccccc" };

// Lines (one per run) -> traces: one per run, or merged by style when there are many runs.
function linesToTraces(lines, hovertemplate) {
  lines.sort((a, b) => Z[a.style.key] - Z[b.style.key]);
  if (lines.length <= MAX_TRACES) {
    return lines.map((l) => ({
      type: "scatter",
      mode: l.x.length === 1 ? "lines+markers" : "lines",
      x: l.x, y: l.y, text: l.x.map(() => l.text), customdata: l.x.map(() => l.id),
      name: shortId(l.id), meta: l.id, hovertemplate,
      line: { color: l.style.color, width: l.style.width }, marker: { size: 5, color: l.style.color },
      opacity: l.style.opacity,
    }));
  }
  const groups = new Map();
  for (const l of lines) {
    let g = groups.get(l.style.key);
    if (!g) {
      const color = l.style.merged || l.style.color;
      g = { type: "scatter", mode: "lines", x: [], y: [], text: [], customdata: [], name: l.style.key, meta: l.style.key,
        hovertemplate, line: { color, width: l.style.width }, opacity: l.style.opacity };
      groups.set(l.style.key, g);
    }
    for (let k = 0; k < l.x.length; k++) {
      g.x.push(l.x[k]); g.y.push(l.y[k]); g.text.push(l.text); g.customdata.push(l.id);
    }
    g.x.push(null); g.y.push(null); g.text.push(""); g.customdata.push(null);
  }
  return [...groups.values()];
}

export function learningCurves(state, metric, selected, height) {
  const lines = [];
  state.order.forEach((id, i) => {
    const values = (state.series[id] || {})[metric];
    if (!values || !values.length) return;
    const row = state.runs[id];
    lines.push({ id, x: values.map((_, k) => k + 1), y: values, text: hoverText(row, state), style: lineStyle(row, i, state, selected) });
  });
  const layout = baseLayout(`Learning curves: ${metric}`, height);
  layout.xaxis = { title: { text: "interval" }, zeroline: false };
  layout.yaxis = { title: { text: metric }, zeroline: false };
  return { data: linesToTraces(lines, "%{text}<br>interval %{x}: %{y}<extra></extra>"), layout };
}

// ---- parallel coordinates -------------------------------------------------------------------
function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function supLabel(exp) {
  return `1e${exp}`;
}

// One axis: a function value -> [0, 1] (or null) and its ticks [{pos, text}].
function makeAxis(spec, values) {
  if (spec.categorical) {
    const labels = spec.values && spec.values.length ? spec.values.map(String) : [...new Set(values.map(String))];
    const k = labels.length;
    const pos = (v) => { const i = labels.indexOf(String(v)); return i < 0 ? null : (k === 1 ? 0.5 : i / (k - 1)); };
    return { title: spec.name, pos, labels, ticks: labels.map((t, i) => ({ pos: k === 1 ? 0.5 : i / (k - 1), text: t })) };
  }
  const log = !!spec.log;
  const tx = (v) => (typeof v !== "number" || !isFinite(v) || (log && v <= 0) ? null : log ? Math.log10(v) : v);
  const xs = values.map(tx).filter((v) => v !== null);
  let lo = xs.length ? Math.min(...xs) : 0;
  let hi = xs.length ? Math.max(...xs) : 1;
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const pos = (v) => { const x = tx(v); return x === null ? null : (x - lo) / (hi - lo); };
  let ticks;
  if (log) {
    const exps = [];
    for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) exps.push(e);
    ticks = exps.length >= 2 ? exps.map((e) => ({ pos: (e - lo) / (hi - lo), text: supLabel(e) }))
      : [lo, (lo + hi) / 2, hi].map((x) => ({ pos: (x - lo) / (hi - lo), text: fmt(Math.pow(10, x)) }));
  } else {
    ticks = niceTicks(lo, hi).map((v) => ({ pos: (v - lo) / (hi - lo), text: fmt(v) }));
  }
  const fromPos = (p) => { const x = lo + p * (hi - lo); return log ? Math.pow(10, x) : x; };
  return { title: log ? `${spec.name} (log)` : spec.name, pos, fromPos, ticks, lo, hi };
}

function colorAt(t) {
  t = Math.min(1, Math.max(0, t));
  return VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
}

// The axes of the parallel coordinates, left to right: one per hyperparameter, then the primary
// metric. Each has a `key` (what brushes are stored under) and `value(row)`.
export function pcAxes(state) {
  const meta = state.meta || { axes: [], primary: "" };
  const rows = state.order.map((id) => state.runs[id]);
  const axes = meta.axes.map((spec) => ({
    ...makeAxis(spec, rows.map((r) => r.params[spec.name])), key: `p:${spec.name}`, value: (r) => r.params[spec.name],
  }));
  axes.push({ ...makeAxis({ name: meta.primary }, rows.map((r) => r.best)), key: `m:${meta.primary}`, value: (r) => r.best });
  return axes;
}

// ---- brushes: kept in data units ({lo, hi} values, or {cats} labels), so they survive redraws
// that rescale the axes. Positions are the axis' [0, 1].

// The brush covering positions p0 <= p1 of an axis, or null when it covers nothing.
export function brushFromPos(axis, p0, p1) {
  if (axis.labels) {
    const cats = axis.labels.filter((c) => { const p = axis.pos(c); return p >= p0 && p <= p1; });
    return cats.length ? { cats } : null;
  }
  return { lo: axis.fromPos(p0), hi: axis.fromPos(p1) };
}

// [p0, p1] of a brush on an axis, unclamped (null if none of its categories is on the axis)
function brushPos(axis, b) {
  if (axis.labels) {
    const ps = b.cats.map((c) => axis.pos(c)).filter((p) => p !== null);
    if (!ps.length) return null;
    const half = axis.labels.length > 1 ? 0.25 / (axis.labels.length - 1) : 0.1;
    return [Math.min(...ps) - half, Math.max(...ps) + half];
  }
  return [axis.pos(b.lo), axis.pos(b.hi)];
}

function inBrush(axis, b, v) {
  if (axis.labels) return b.cats.includes(String(v));
  const p = axis.pos(v);
  const [p0, p1] = brushPos(axis, b);
  return p !== null && p >= p0 - 1e-9 && p <= p1 + 1e-9; // in axis units, so log axes round-trip
}

// The ids of the runs inside every brush (AND), or null when no axis is brushed.
export function brushedRuns(state, brushes, axes = pcAxes(state)) {
  const active = axes.filter((a) => brushes[a.key]);
  if (!active.length) return null;
  return new Set(state.order.filter((id) => active.every((a) => inBrush(a, brushes[a.key], a.value(state.runs[id])))));
}

export function parallelCoordinates(state, selected, height, brushes = {}) {
  const meta = state.meta || { axes: [], primary: "" };
  const ids = state.order;
  const axes = pcAxes(state);
  const inside = brushedRuns(state, brushes, axes);
  const n = axes.length;
  const best = ids.map((id) => state.runs[id].best).filter((v) => v !== null && v !== undefined);
  const mlo = best.length ? Math.min(...best) : 0;
  const mhi = best.length ? Math.max(...best) : 1;
  const reverse = meta.goal === "minimize";
  const lines = [];
  ids.forEach((id) => {
    const row = state.runs[id];
    const y = axes.map((a) => a.pos(a.value(row)));
    let t = row.best === null || row.best === undefined ? null : mhi > mlo ? (row.best - mlo) / (mhi - mlo) : 1;
    if (t !== null && reverse) t = 1 - t;
    const bin = t === null ? "none" : String(Math.round(t * (VIRIDIS.length - 1)));
    let style = { key: "normal", color: t === null ? "#bbbbbb" : colorAt(t), width: 1.5, opacity: t === null ? 0.5 : 0.8 };
    if (id === (state.header || {}).best_run) style = { key: "best", color: BEST, width: 3.5, opacity: 1 };
    if (inside && !inside.has(id)) style = DIMMED;
    if (id === selected) style = { key: "selected", color: SELECTED, width: 4, opacity: 1 };
    if (style.key === "normal") style.merged = style.color;
    lines.push({ id, x: y.map((_, k) => k), y, text: hoverText(row, state), style, bin });
  });
  let data;
  if (lines.length <= MAX_TRACES) {
    data = linesToTraces(lines, "%{text}<extra></extra>");
  } else {
    // merge per colour bin so the colour still tells the metric; the dimmed lines into one trace
    const groups = new Map();
    const others = [];
    for (const l of lines) {
      const g = l.style.key === "normal" ? `bin-${l.bin}` : l.style.key === "dimmed" ? "dimmed" : null;
      if (g === null) { others.push(l); continue; }
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(l);
    }
    data = [];
    if (groups.has("dimmed")) data.push(linesToTracesMerged("dimmed", groups.get("dimmed"), "%{text}<extra></extra>"));
    for (const [g, group] of groups) if (g !== "dimmed") data.push(linesToTracesMerged(g, group, "%{text}<extra></extra>"));
    data.push(...linesToTraces(others, "%{text}<extra></extra>"));
  }
  // the colour bar, on an invisible marker trace
  data.push({
    type: "scatter", mode: "markers", x: [null], y: [null], hoverinfo: "skip", showlegend: false, meta: "colorbar",
    marker: { color: [mlo, mhi], cmin: mlo, cmax: mhi, colorscale: "Viridis", reversescale: reverse, showscale: true,
      colorbar: { title: { text: meta.primary, side: "right" }, thickness: 10, len: 0.8 } },
  });
  const layout = baseLayout("Parallel coordinates", height);
  layout.margin = { l: 50, r: 40, t: 56, b: 20 };
  layout.xaxis = { range: [-0.4, n - 0.6], showgrid: false, zeroline: false, showticklabels: false, fixedrange: true };
  layout.yaxis = { range: [-0.05, 1.05], showgrid: false, zeroline: false, showticklabels: false, fixedrange: true };
  layout.shapes = axes.map((_, k) => ({ type: "line", x0: k, x1: k, y0: 0, y1: 1, line: { color: "#666", width: 1 }, layer: "below" }));
  axes.forEach((a, k) => { // a brush: a band 14 px wide on its axis
    const p = brushes[a.key] && brushPos(a, brushes[a.key]);
    if (!p) return;
    layout.shapes.push({ type: "rect", xsizemode: "pixel", xanchor: k, x0: -7, x1: 7, y0: Math.max(0, p[0]), y1: Math.min(1, p[1]),
      fillcolor: "rgba(31,119,180,0.15)", line: { color: "#1f77b4", width: 1 }, layer: "above", name: `brush-${a.key}` });
  });
  layout.annotations = [];
  axes.forEach((a, k) => {
    layout.annotations.push({ x: k, y: 1.02, yanchor: "bottom", text: `<b>${a.title}</b>`, showarrow: false, font: { size: 11 } });
    for (const t of a.ticks) {
      layout.annotations.push({ x: k, y: t.pos, xanchor: "right", xshift: -3, text: t.text, showarrow: false, font: { size: 9, color: "#555" } });
    }
  });
  return { data, layout, axes, inside };
}

function linesToTracesMerged(name, lines, hovertemplate) {
  const s = lines[0].style;
  const dimmed = s.key === "dimmed";
  const g = { type: "scatter", mode: "lines", x: [], y: [], text: [], customdata: [], meta: name, name,
    hovertemplate, line: { color: s.color, width: dimmed ? s.width : 1.2 }, opacity: dimmed ? s.opacity : 0.6 };
  for (const l of lines) {
    for (let k = 0; k < l.x.length; k++) { g.x.push(l.x[k]); g.y.push(l.y[k]); g.text.push(l.text); g.customdata.push(l.id); }
    g.x.push(null); g.y.push(null); g.text.push(""); g.customdata.push(null);
  }
  return g;
}

// ---- primary metric per run over time -------------------------------------------------------
export function metricOverTime(state, selected, height) {
  const meta = state.meta || { primary: "", goal: "maximize" };
  const pts = state.order.map((id) => state.runs[id]).filter((r) => r.best !== null && r.best !== undefined)
    .map((r) => ({ r, t: r.ended || r.t_last || r.started || r.created }))
    .sort((a, b) => a.t - b.t);
  const better = (a, b) => (meta.goal === "minimize" ? a < b : a > b);
  const bx = [], by = [];
  let cur = null;
  for (const p of pts) {
    if (p.r.status === "Failed") continue;
    if (cur === null || better(p.r.best, cur)) cur = p.r.best;
    bx.push(new Date(p.t * 1000)); by.push(cur);
  }
  const head = state.header || {};
  const data = [
    { type: "scatter", mode: "lines", x: bx, y: by, line: { shape: "hv", color: BEST, width: 2 }, name: "best so far", meta: "best-so-far", hoverinfo: "skip" },
    {
      type: "scatter", mode: "markers", meta: "runs", name: "runs",
      x: pts.map((p) => new Date(p.t * 1000)), y: pts.map((p) => p.r.best), text: pts.map((p) => hoverText(p.r, state)),
      customdata: pts.map((p) => p.r.id), hovertemplate: "%{text}<extra></extra>",
      marker: {
        size: pts.map((p) => (p.r.id === selected ? 14 : p.r.id === head.best_run ? 11 : 7)),
        color: pts.map((p) => STATUS_COLORS[p.r.status] || "#000"),
        line: { width: pts.map((p) => (p.r.id === selected ? 3 : 0)), color: SELECTED },
      },
    },
  ];
  const layout = baseLayout(`${meta.primary} per run over time (best of each run)`, height);
  layout.xaxis = { type: "date", title: { text: "time the run ended (or last logged)" } };
  layout.yaxis = { title: { text: meta.primary }, zeroline: false };
  return { data, layout };
}
