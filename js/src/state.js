// The view state and its reducer: mirrors hdnotebook/run_view.py `apply_message`.
// state = { meta, header, order: [ids], runs: {id: row}, series: {id: {metric: [values]}}, clockOffset }

export function createState() {
  return { meta: null, header: null, order: [], runs: {}, series: {}, clockOffset: 0 };
}

export function applyMessage(state, msg) {
  if (!msg || (msg.type !== "snapshot" && msg.type !== "update")) return false;
  if (msg.type === "snapshot") {
    state.header = null;
    state.order = [];
    state.runs = {};
    state.series = {};
  }
  if (msg.meta) state.meta = msg.meta;
  if (msg.header) {
    state.header = msg.header;
    // the kernel's clock may differ from the browser's (Colab): keep the offset for "elapsed"
    if (typeof msg.header.now === "number") state.clockOffset = msg.header.now - Date.now() / 1000;
  }
  let added = false;
  for (const row of msg.runs || []) {
    if (!(row.id in state.runs)) { state.order.push(row.id); added = true; }
    state.runs[row.id] = row;
  }
  // runs in the order of their numbers (then ids), however their changes came: as run_view.py
  if (added) state.order.sort((a, b) => runOrder(state.runs[a], state.runs[b]));
  for (const [runId, name, start, values] of msg.points || []) {
    const perRun = state.series[runId] || (state.series[runId] = {});
    const series = perRun[name] || (perRun[name] = []);
    while (series.length < start + values.length) series.push(null);
    for (let i = 0; i < values.length; i++) series[start + i] = values[i];
  }
  return true;
}

function runOrder(a, b) {
  const na = typeof a.number === "number" ? a.number : Infinity;
  const nb = typeof b.number === "number" ? b.number : Infinity;
  if (na !== nb) return na < nb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function metricNames(state) {
  const names = new Set();
  if (state.meta && state.meta.primary) names.add(state.meta.primary);
  for (const id of state.order) for (const name of Object.keys(state.series[id] || {})) names.add(name);
  return [...names];
}

export const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);

export { STATUS_COLORS } from "./theme.js";

export function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    return Number(v.toPrecision(4)).toString();
  }
  return String(v);
}

// fmt in plotly's (d3-format's) words, for axis ticks and hover values: the same text as fmt for every
// non-integer from 1e-6 to 1e21 (tests/test_number_format.py checks it); plotly's ".4~g" would write
// 123456.7 as 1.235e+5 where the table says 123500
export const PLOTLY_NUMBER = ".4~r";

export function fmtSeconds(s) {
  s = Math.max(0, s);
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export function nowServer(state) {
  return Date.now() / 1000 + (state.clockOffset || 0);
}

export function duration(row, state) {
  if (!row.started) return null;
  return (row.ended || nowServer(state)) - row.started;
}

export function shortId(id) {
  const i = id.lastIndexOf("_");
  return i >= 0 ? id.slice(i + 1) : id;
}

export function hoverText(row, state) {
  const lines = [`<b>run ${row.id}</b>`, row.status];
  for (const [k, v] of Object.entries(row.params || {})) lines.push(`${k} = ${fmt(v)}`);
  if (row.best !== null && row.best !== undefined) lines.push(`best ${state.meta.primary} = ${fmt(row.best)}`);
  return lines.join("<br>");
}
