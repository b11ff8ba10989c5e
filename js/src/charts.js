// Plotly figures of the view state: learning curves, parallel coordinates, metric over time.
// Pure functions: state in, {data, layout} out. Everything is SVG (no WebGL), so many widgets in one
// notebook never run out of WebGL contexts and headless browsers draw them too.
import { PLOTLY_NUMBER, fmt, hoverText, nowServer, shortId } from "./state.js";
import { PALETTE, STATUS_COLORS, STATUS_DASH } from "./theme.js";

export const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
// above this many runs, lines of the same style are merged into one trace (null-separated), and
// curves are coloured by the run's best value of the metric instead of one colour per run
export const MAX_TRACES = 100;
// with more runs than colours, curves are coloured by their best value; the best N stand out
export const BEST_N = 3;

export function baseLayout(title, height, theme, width) {
  const axis = { color: theme.font2, gridcolor: theme.grid, linecolor: theme.border, zerolinecolor: theme.border,
    tickfont: { color: theme.font2 }, title: { font: { color: theme.font } } };
  const layout = {
    title: { text: title, font: { size: 13, color: theme.font }, x: 0.01, xanchor: "left" },
    height,
    margin: { l: 60, r: 20, t: 36, b: 40 },
    showlegend: false,
    hovermode: "closest",
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { size: 11, color: theme.font, family: theme.fontFamily },
    hoverlabel: { bgcolor: theme.bg1, bordercolor: theme.border, font: { color: theme.font } },
    xaxis: { ...axis },
    yaxis: { ...axis },
  };
  if (width) layout.width = width;
  return layout;
}

// which runs stand out: the best N by their best value (goal-aware), and how each is coloured.
// `colourBy`: "" (automatic: one colour per run while they fit the palette, else the best value),
// "metric" (the run's best value) or "p:<name>" (a hyperparameter of meta.axes: viridis over its
// range, on a log scale for log expressions; a palette colour per value for choice). With many runs
// the metric scale spans the runs that ended (their values no longer move), so a new point of a
// running run does not recolour every curve
export function curveColouring(state, colourBy = "") {
  const meta = state.meta || { goal: "maximize", axes: [] };
  const rows = state.order.map((id) => state.runs[id]);
  const scored = rows.filter((r) => r.best !== null && r.best !== undefined && r.status !== "Failed");
  const sign = meta.goal === "minimize" ? 1 : -1;
  const ranked = scored.slice().sort((a, b) => sign * (a.best - b.best));
  const many = rows.length > PALETTE.length;
  const axis = colourBy.startsWith("p:") ? (meta.axes || []).find((a) => `p:${a.name}` === colourBy) : null;
  const mode = axis ? "param" : colourBy === "metric" || many ? "metric" : "run";
  const out = {
    mode,
    many,
    byMetric: mode !== "run", // not one colour per run (kept for the callers that only ask that)
    top: new Set(ranked.slice(0, many ? BEST_N : 1).map((r) => r.id)),
    running: rows.filter((r) => r.status === "Running").length,
    reverse: meta.goal === "minimize",
  };
  if (mode === "param") return { ...out, ...paramScale(axis, rows.map((r) => r.params[axis.name])) };
  const ended = scored.filter((r) => r.status !== "Running");
  const values = (ended.length >= 2 ? ended : scored).map((r) => r.best);
  return { ...out, name: meta.primary, lo: values.length ? Math.min(...values) : 0, hi: values.length ? Math.max(...values) : 1 };
}

// the colour scale of a hyperparameter: categories (a palette colour each, in the order of the
// choice), or a numeric range in axis units (log10 for log expressions)
export function paramScale(axis, values) {
  if (axis.categorical) {
    const cats = axis.values && axis.values.length ? axis.values.map(String) : [...new Set(values.map(String))];
    return { name: axis.name, categorical: true, cats, colors: cats.map((_, i) => PALETTE[i % PALETTE.length]) };
  }
  const tx = (v) => (typeof v !== "number" || !isFinite(v) || (axis.log && v <= 0) ? null : axis.log ? Math.log10(v) : v);
  const xs = values.map(tx).filter((v) => v !== null);
  const lo = xs.length ? Math.min(...xs) : 0;
  const hi = xs.length ? Math.max(...xs) : 1;
  return { name: axis.name, categorical: false, log: !!axis.log, lo, hi, tx };
}

// the colour of a run's curve (and of its line in the parallel coordinates, and its swatch in the table)
export function runColor(row, colouring, theme) {
  if (colouring.mode === "run") return PALETTE[Math.max(0, row.number || 0) % PALETTE.length];
  if (colouring.mode === "param") {
    const v = (row.params || {})[colouring.name];
    if (colouring.categorical) {
      const i = colouring.cats.indexOf(String(v));
      return i < 0 ? theme.font2 : colouring.colors[i];
    }
    const x = colouring.tx(v);
    if (x === null) return theme.font2;
    return colorAt(colouring.hi > colouring.lo ? (x - colouring.lo) / (colouring.hi - colouring.lo) : 0.5);
  }
  if (row.best === null || row.best === undefined) return theme.font2;
  let t = colouring.hi > colouring.lo ? (row.best - colouring.lo) / (colouring.hi - colouring.lo) : 1;
  if (colouring.reverse) t = 1 - t;
  return colorAt(t);
}

// with more running runs than this, they are drawn thin (their latest point marked) so they do not
// cover the runs that ended
export const FEW_RUNNING = 5;

function lineStyle(row, state, selected, colouring, theme) {
  const dash = row.stopped_early ? "dot" : STATUS_DASH[row.status] || "solid";
  if (row.id === selected) return { key: "selected", color: theme.selected, width: 4, opacity: 1, dash };
  const color = runColor(row, colouring, theme);
  if (colouring.top.has(row.id)) return { key: "best", color, width: 3.5, opacity: 1, dash };
  if (row.status === "Running") { // in its colour; thick only when few run at once (else a band over the rest)
    return { key: "running", color, width: colouring.running > FEW_RUNNING ? 1.4 : 2.5, opacity: 1, dash, head: true };
  }
  const faint = colouring.many ? 0.35 : 0.8;
  if (row.status === "Failed") return { key: "failed", color: STATUS_COLORS.Failed, width: 1.2, opacity: faint, dash };
  return { key: row.stopped_early || row.status === "Canceled" ? "stopped" : "normal", color, width: 1.2,
    opacity: row.stopped_early ? faint * 0.7 : faint, dash };
}

// marker symbols per status in the time chart (shape as well as colour)
const STATUS_SYMBOL = { Completed: "circle", Running: "diamond", Canceled: "x", Failed: "triangle-down", Queued: "circle-open" };

const Z = { dimmed: -1, stopped: 0, failed: 1, normal: 2, running: 3, best: 4, selected: 5 };

// Lines (one per run) -> traces: one per run, or merged by style when there are many runs.
// Lines that stay one trace each even when there are many: the selected, the best and running
// runs (few, and the ones new points arrive for, so an update extends their traces only)
const OWN = new Set(["selected", "best", "running"]);

function oneTrace(l, hovertemplate) {
  return {
    type: "scatter",
    mode: l.x.length === 1 ? "lines+markers" : "lines",
    x: l.x, y: l.y, text: l.x.map(() => l.text), customdata: l.x.map(() => l.id),
    name: shortId(l.id), meta: l.id, hovertemplate,
    line: { color: l.style.color, width: l.style.width, dash: l.style.dash || "solid" }, marker: { size: 5, color: l.style.color },
    opacity: l.style.opacity,
  };
}

function linesToTraces(lines, hovertemplate, merge = lines.length > MAX_TRACES) {
  lines.sort((a, b) => Z[a.style.key] - Z[b.style.key]);
  if (!merge) return lines.map((l) => oneTrace(l, hovertemplate));
  const groups = new Map();
  const own = [];
  for (const l of lines) {
    if (OWN.has(l.style.key)) { own.push(oneTrace(l, hovertemplate)); continue; }
    const color = l.style.merged || l.style.color;
    const key = `${l.style.key}|${color}|${l.style.dash || "solid"}`;
    let g = groups.get(key);
    if (!g) {
      g = { type: "scatter", mode: "lines", x: [], y: [], text: [], customdata: [], name: l.style.key, meta: key,
        hovertemplate, line: { color, width: l.style.width, dash: l.style.dash || "solid" }, opacity: l.style.opacity };
      groups.set(key, g);
    }
    for (let k = 0; k < l.x.length; k++) {
      g.x.push(l.x[k]); g.y.push(l.y[k]); g.text.push(l.text); g.customdata.push(l.id);
    }
    g.x.push(null); g.y.push(null); g.text.push(""); g.customdata.push(null);
  }
  return [...groups.values(), ...own];
}

// a robust y range: the 2nd..98th percentile of the values plus a margin, so one outlier cannot
// squeeze every curve into a sliver (the outlier is drawn off the plot; hover still tells it)
export function robustRange(values) {
  const v = values.filter((x) => typeof x === "number" && isFinite(x)).sort((a, b) => a - b);
  if (v.length < 20) return null;
  const q = (p) => v[Math.min(v.length - 1, Math.max(0, Math.round(p * (v.length - 1))))];
  const lo = q(0.02), hi = q(0.98);
  if (!(hi > lo) || (v[0] >= lo - (hi - lo) * 0.5 && v[v.length - 1] <= hi + (hi - lo) * 0.5)) return null;
  // rounded outwards to a step of about a twentieth of the span, so new points rarely move it (a
  // moved range is a full redraw; an unmoved one lets new points extend their traces)
  const span = hi - lo;
  const step = Math.pow(10, Math.floor(Math.log10(span / 20)));
  return [Math.floor((lo - span * 0.05) / step) * step, Math.ceil((hi + span * 0.05) / step) * step];
}

// `only`: a Set of the run ids to draw (the brushed runs), or null for all. `cache` (an object the
// caller keeps): with many runs, the background traces are rebuilt only when a run in them changed.
export function learningCurves(state, metric, selected, height, theme, width, only = null, cache = {}, colourBy = "") {
  const lines = [];
  const colouring = curveColouring(state, colourBy);
  const many = state.order.length > MAX_TRACES;
  const bgKey = [];
  let all = [];
  state.order.forEach((id) => {
    if (only && !only.has(id) && id !== selected) return;
    const values = (state.series[id] || {})[metric];
    if (!values || !values.length) return;
    const row = state.runs[id];
    let style = lineStyle(row, state, selected, colouring, theme);
    if (many && id === selected) { // the selected run: in the background as it would be, and on the overlay on top
      const plain = lineStyle(row, state, null, colouring, theme);
      if (!OWN.has(plain.key)) {
        lines.push({ id, x: values.map((_, k) => k + 1), y: values, text: hoverText(row, state), style });
        style = plain;
      }
    }
    if (many && !OWN.has(style.key)) { // a background line: its points are built only if the background changed
      bgKey.push(`${id}:${values.length}:${style.key}:${style.color}:${style.dash}`);
      lines.push({ id, values, row, style, lazy: true });
      return;
    }
    lines.push({ id, x: values.map((_, k) => k + 1), y: values, text: hoverText(row, state), style });
  });
  const key = `${metric}|${width}|${height}|${theme.font}|${bgKey.join(",")}`;
  const reuse = many && cache.key === key;
  for (const l of lines) {
    if (!l.lazy) { for (const v of l.y) all.push(v); continue; }
    if (reuse) continue;
    l.x = l.values.map((_, k) => k + 1);
    l.y = l.values;
    l.text = hoverText(l.row, state);
    for (const v of l.y) all.push(v);
  }
  // the y range: with a reused background, its range stands unless a running run leaves it
  let range;
  if (reuse) {
    const lo = all.length ? Math.min(...all.filter(Number.isFinite)) : Infinity;
    const hi = all.length ? Math.max(...all.filter(Number.isFinite)) : -Infinity;
    range = cache.range && lo >= cache.range[0] && hi <= cache.range[1] ? cache.range : undefined;
    if (range === undefined) all = all.concat(cache.values);
  }
  const layout = baseLayout(`Learning curves: ${metric}`, height, theme, width);
  layout.xaxis = { ...layout.xaxis, title: { text: "interval", font: { color: theme.font } }, zeroline: false };
  layout.yaxis = { ...layout.yaxis, title: { text: metric, font: { color: theme.font } }, zeroline: false, tickformat: PLOTLY_NUMBER };
  if (range === undefined) range = robustRange(all) || (many ? paddedRange(all) : null);
  if (range) layout.yaxis.range = range;
  const hover = `%{text}<br>interval %{x}: %{y:${PLOTLY_NUMBER}}<extra></extra>`;
  if (lines.length <= MAX_TRACES) return { data: linesToTraces(lines, hover), layout, colouring, overlay: [] };
  // many runs: the runs that ended are plotly traces (merged by style), drawn again only when the
  // layout changes; the selected, best and running runs go on a light SVG overlay (overlayPaths) that
  // is redrawn on every update. The axes get fixed ranges so both agree.
  const overlay = lines.filter((l) => OWN.has(l.style.key)).sort((a, b) => Z[a.style.key] - Z[b.style.key]);
  layout.xaxis.range = [1, Math.max(2, ...lines.map((l) => (l.x || l.values).length))];
  cache.range = range;
  if (!reuse) {
    const background = lines.filter((l) => !OWN.has(l.style.key));
    cache.key = key;
    cache.data = linesToTraces(background, hover, true);
    cache.values = background.flatMap((l) => l.y);
  }
  return { data: cache.data, layout, colouring, overlay };
}

function paddedRange(values) {
  const v = values.filter((x) => typeof x === "number" && isFinite(x));
  if (!v.length) return [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const span = hi - lo;
  const step = Math.pow(10, Math.floor(Math.log10(span / 20)));
  return [Math.floor((lo - span * 0.05) / step) * step, Math.ceil((hi + span * 0.05) / step) * step];
}

const DASHARRAY = { solid: "", dot: "2,3", dash: "6,3" };

// The overlay lines as SVG path attributes in the pixels of a drawn plotly chart (its _fullLayout):
// [{id, d, stroke, width, dasharray, opacity, title}]
export function overlayPaths(lines, fullLayout) {
  const xa = fullLayout.xaxis, ya = fullLayout.yaxis;
  return lines.map((l) => {
    let d = "", pen = "M";
    for (let k = 0; k < l.x.length; k++) {
      const y = l.y[k];
      if (y === null || y === undefined || !isFinite(y)) { pen = "M"; continue; }
      d += `${pen}${xa.l2p(l.x[k]).toFixed(1)},${ya.l2p(y).toFixed(1)}`;
      pen = "L";
    }
    if (l.x.length === 1 && d) d += "h0.01"; // a single point still shows (round caps)
    // a running run's latest point (where new points arrive): a dot, so it stands out while thin
    let head = null;
    for (let k = l.x.length - 1; l.style.head && k >= 0; k--) {
      const y = l.y[k];
      if (y !== null && y !== undefined && isFinite(y)) { head = [xa.l2p(l.x[k]).toFixed(1), ya.l2p(y).toFixed(1)]; break; }
    }
    return { id: l.id, d, head, stroke: l.style.color, width: l.style.width, dasharray: DASHARRAY[l.style.dash || "solid"] || "",
      opacity: l.style.opacity, title: String(l.text).replace(/<br>/g, "\n").replace(/<[^>]+>/g, "") };
  });
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

// the colour bar of the parallel coordinates (on an invisible marker trace), telling what the
// colours mean: the metric or a numeric hyperparameter (log ticks for log ones), or one band per
// value of a choice; none when each run has its own colour (the table's swatches tell it)
export function colourBar(colouring, theme) {
  if (colouring.mode === "run") return null;
  const colorbar = { title: { text: colouring.name, side: "right", font: { color: theme.font } }, thickness: 10, len: 0.8,
    tickfont: { color: theme.font2 }, outlinecolor: theme.border, tickformat: PLOTLY_NUMBER };
  const marker = { showscale: true, colorbar };
  if (colouring.mode === "param" && colouring.categorical) {
    const k = colouring.cats.length;
    marker.colorscale = colouring.colors.flatMap((c, i) => [[i / k, c], [(i + 1) / k, c]]);
    Object.assign(marker, { color: [-0.5, k - 0.5], cmin: -0.5, cmax: k - 0.5 });
    Object.assign(colorbar, { tickvals: colouring.cats.map((_, i) => i), ticktext: colouring.cats });
    delete colorbar.tickformat;
  } else {
    let { lo, hi } = colouring;
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    marker.colorscale = VIRIDIS.map((c, i) => [i / (VIRIDIS.length - 1), c]);
    Object.assign(marker, { color: [lo, hi], cmin: lo, cmax: hi, reversescale: colouring.mode === "metric" && colouring.reverse });
    if (colouring.mode === "param" && colouring.log) { // axis units are log10: ticks at the powers of ten
      const exps = [];
      for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) exps.push(e);
      const ticks = exps.length >= 2 ? exps : [lo, hi];
      Object.assign(colorbar, { tickvals: ticks, ticktext: ticks.map((e) => (Number.isInteger(e) ? `1e${e}` : fmt(Math.pow(10, e)))),
        title: { ...colorbar.title, text: `${colouring.name} (log)` } });
    }
  }
  return { type: "scatter", mode: "markers", x: [null], y: [null], hoverinfo: "skip", showlegend: false, meta: "colorbar", marker };
}

// `colouring`: curveColouring's answer, so a run has the same colour here as in the curves and the table
// `cache` (an object the caller keeps): with many runs, the lines of the runs that are neither
// running, selected nor the best are merged plotly traces rebuilt only when one of them changes; the
// others come back as `overlay` lines (drawn on an SVG over the plot, as the curves' overlay), so a
// streaming update leaves the plotly figure as it was
export function parallelCoordinates(state, selected, height, brushes = {}, theme, width, colouring = curveColouring(state), cache = {}) {
  const ids = state.order;
  const axes = pcAxes(state);
  const inside = brushedRuns(state, brushes, axes);
  const n = axes.length;
  const lines = [];
  ids.forEach((id) => {
    const row = state.runs[id];
    const y = axes.map((a) => a.pos(a.value(row)));
    const color = runColor(row, colouring, theme);
    const none = colouring.mode === "metric" && (row.best === null || row.best === undefined);
    let style = { key: "normal", color, width: 1.5, opacity: none ? 0.5 : 0.8 };
    if (row.status === "Running") style = { ...style, key: "running", opacity: 0.9 };
    if (id === (state.header || {}).best_run) style = { ...style, key: "best", width: 3.5, opacity: 1 };
    if (inside && !inside.has(id)) style = { key: "dimmed", color: theme.dimmed, width: 1, opacity: 0.6, merged: theme.dimmed };
    if (id === selected) style = { key: "selected", color: theme.selected, width: 4, opacity: 1 };
    if (style.key === "normal") style.merged = style.color;
    lines.push({ id, x: y.map((_, k) => k), y, text: hoverText(row, state), style, bin: color });
  });
  let data;
  let overlay = [];
  const many = lines.length > MAX_TRACES;
  const bgKey = many ? `${width}|${height}|${theme.font}|${colouring.mode}|` + lines.map((l) => (OWN.has(l.style.key) ? "" :
    `${l.id}:${l.style.key}:${l.style.color}:${l.y.map((v) => (v === null ? "" : v.toFixed(4))).join(",")}`)).join(";") : null;
  if (!many) {
    data = linesToTraces(lines, "%{text}<extra></extra>");
  } else if (cache.key === bgKey) {
    data = cache.data;
    overlay = lines.filter((l) => OWN.has(l.style.key)).sort((a, b) => Z[a.style.key] - Z[b.style.key]);
  } else {
    // merge per colour so the colour still tells the metric (or parameter); the dimmed lines into one trace
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
    // the running, selected and best runs: on the overlay
    overlay = others.filter((l) => OWN.has(l.style.key)).sort((a, b) => Z[a.style.key] - Z[b.style.key]);
    data.push(...linesToTraces(others.filter((l) => !OWN.has(l.style.key)), "%{text}<extra></extra>"));
    const bar = colourBar(colouring, theme);
    if (bar) data.push(bar);
    cache.key = bgKey;
    cache.data = data;
  }
  if (!many) {
    const bar = colourBar(colouring, theme);
    if (bar) data.push(bar);
  }
  const layout = baseLayout("Parallel coordinates", height, theme, width);
  layout.margin = { l: 50, r: 40, t: 56, b: 20 };
  layout.xaxis = { range: [-0.4, n - 0.6], showgrid: false, zeroline: false, showticklabels: false, fixedrange: true };
  layout.yaxis = { range: [-0.05, 1.05], showgrid: false, zeroline: false, showticklabels: false, fixedrange: true };
  layout.shapes = axes.map((_, k) => ({ type: "line", x0: k, x1: k, y0: 0, y1: 1, line: { color: theme.border, width: 1 }, layer: "below" }));
  axes.forEach((a, k) => { // a brush: a band 14 px wide on its axis
    const p = brushes[a.key] && brushPos(a, brushes[a.key]);
    if (!p) return;
    layout.shapes.push({ type: "rect", xsizemode: "pixel", xanchor: k, x0: -7, x1: 7, y0: Math.max(0, p[0]), y1: Math.min(1, p[1]),
      fillcolor: theme.light ? "rgba(0,114,178,0.15)" : "rgba(86,180,233,0.25)", line: { color: theme.brand, width: 1 }, layer: "above", name: `brush-${a.key}` });
  });
  layout.annotations = [];
  axes.forEach((a, k) => {
    layout.annotations.push({ x: k, y: 1.02, yanchor: "bottom", text: `<b>${a.title}</b>`, showarrow: false, font: { size: 11, color: theme.font } });
    for (const t of a.ticks) {
      layout.annotations.push({ x: k, y: t.pos, xanchor: "right", xshift: -3, text: t.text, showarrow: false, font: { size: 9, color: theme.font2 } });
    }
  });
  return { data, layout, axes, inside, overlay };
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
// `overlay` (many runs): the running runs' markers come back as `overlay` points (drawn on an SVG over
// the plot, as the curves' running lines) and the x axis gets a fixed range with headroom, so while
// runs stream the plotly figure stays as it was
export function metricOverTime(state, selected, height, theme, width, overlay = false) {
  const meta = state.meta || { primary: "", goal: "maximize" };
  const pts = state.order.map((id) => state.runs[id]).filter((r) => r.best !== null && r.best !== undefined)
    .map((r) => ({ r, t: r.ended || r.t_last || r.started || r.created }))
    .sort((a, b) => a.t - b.t);
  const better = (a, b) => (meta.goal === "minimize" ? a < b : a > b);
  const head = state.header || {};
  const many = overlay && state.order.length > MAX_TRACES;
  const onTop = many ? pts.filter((p) => p.r.status === "Running" && p.r.id !== selected) : [];
  const inPlot = many ? pts.filter((p) => !(p.r.status === "Running" && p.r.id !== selected)) : pts;
  // the best so far (with the overlay: of the runs in the plot, so it stays put while runs stream)
  const bx = [], by = [];
  let cur = null;
  for (const p of inPlot) {
    if (p.r.status === "Failed") continue;
    if (cur === null || better(p.r.best, cur)) cur = p.r.best;
    bx.push(new Date(p.t * 1000)); by.push(cur);
  }
  const data = [
    { type: "scatter", mode: "lines", x: bx, y: by, line: { shape: "hv", color: theme.font2, width: 2, dash: "dash" }, name: "best so far", meta: "best-so-far", hoverinfo: "skip" },
    {
      type: "scatter", mode: "markers", meta: "runs", name: "runs",
      x: inPlot.map((p) => new Date(p.t * 1000)), y: inPlot.map((p) => p.r.best), text: inPlot.map((p) => hoverText(p.r, state)),
      customdata: inPlot.map((p) => p.r.id), hovertemplate: "%{text}<extra></extra>",
      marker: {
        size: inPlot.map((p) => (p.r.id === selected ? 14 : p.r.id === head.best_run ? 11 : 7)),
        color: inPlot.map((p) => STATUS_COLORS[p.r.status] || theme.font2),
        line: { width: inPlot.map((p) => (p.r.id === selected ? 3 : 0)), color: theme.selected },
        symbol: inPlot.map((p) => STATUS_SYMBOL[p.r.status] || "circle"),
      },
    },
  ];
  const layout = baseLayout(`${meta.primary} per run over time (best of each run)`, height, theme, width);
  layout.xaxis = { ...layout.xaxis, type: "date", title: { text: "time the run ended (or last logged)", font: { color: theme.font } } };
  layout.yaxis = { ...layout.yaxis, title: { text: meta.primary, font: { color: theme.font } }, zeroline: false, tickformat: PLOTLY_NUMBER };
  const range = robustRange(pts.map((p) => p.r.best));
  if (range) layout.yaxis.range = range;
  if (!many) return { data, layout, overlay: [] };
  // fixed ranges, so the overlay and the plot agree and a moving marker rarely changes them: x ends
  // on a multiple of a round step (a tenth of the span or so) past the latest time, y padded
  const ts = pts.map((p) => p.t);
  const lo = Math.min(...ts), hi = Math.max(...ts, nowServer(state));
  const step = niceStep(Math.max(60, hi - lo) / 10);
  layout.xaxis.range = [(lo - 0.2 * step) * 1000, (Math.ceil(hi / step) + 0.2) * step * 1000];
  if (!range) layout.yaxis.range = paddedRange(pts.map((p) => p.r.best));
  return { data, layout, overlay: onTop.map((p) => ({ id: p.r.id, x: p.t * 1000, y: p.r.best, color: STATUS_COLORS.Running,
    title: String(hoverText(p.r, state)).replace(/<br>/g, "\n").replace(/<[^>]+>/g, "") })) };
}

// 1, 2 or 5 times a power of ten, at least `x`
function niceStep(x) {
  const mag = Math.pow(10, Math.floor(Math.log10(x)));
  return [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= x);
}
