// The runs table: sortable by any column (click or Enter on a header), filterable by status, one
// row selectable (click or Enter), a row expandable to its stop reason and error. Compact: the run
// number, status and metric columns stay pinned on the left while the parameters scroll sideways.
// Updated in place: rows whose data changed are patched cell by cell, so a text selection elsewhere
// in the table survives; the body is rebuilt only when the order of the shown rows changes.
import { duration, fmt, fmtSeconds } from "./state.js";
import { STATUS_COLORS } from "./theme.js";
import { esc } from "./page.js";

// Columns, left to right: the pinned ones first (pin: true)
export function columns(state) {
  const meta = state.meta || { axes: [], primary: "" };
  const cols = [
    { key: "number", label: "#", value: (r) => r.number, pin: true, title: (r) => r.id },
    { key: "status", label: "status", value: (r) => r.status, pin: true },
    { key: "best", label: `${meta.primary} best`, value: (r) => r.best, pin: true },
    { key: "last", label: `${meta.primary} last`, value: (r) => r.last },
    { key: "intervals", label: "intervals", value: (r) => r.intervals },
    { key: "duration", label: "duration", value: (r) => duration(r, state), text: (r) => { const d = duration(r, state); return d === null ? "" : fmtSeconds(d); } },
  ];
  for (const a of meta.axes) cols.push({ key: `p:${a.name}`, label: a.name, value: (r) => r.params[a.name], head: a.expr });
  cols.push({ key: "stop", label: "stop reason", value: (r) => r.stop_reason || (r.error ? firstLine(r.error) : ""), title: (r) => r.stop_reason || r.error || "" });
  return cols;
}

function firstLine(text) {
  const lines = String(text).trim().split("\n");
  return lines[lines.length - 1] || lines[0];
}

function compare(a, b) {
  const na = a === null || a === undefined || a === "";
  const nb = b === null || b === undefined || b === "";
  if (na || nb) return na && nb ? 0 : na ? 1 : -1; // empty last
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// view = { sortKey, sortDir (1|-1), statusFilter ("" = all), selected, brushOnly, brushed (Set of ids | null), expanded: Set }
export function visibleRows(state, view) {
  const cols = columns(state);
  const col = cols.find((c) => c.key === view.sortKey) || cols[0];
  let rows = state.order.map((id) => state.runs[id]);
  if (view.statusFilter) rows = rows.filter((r) => r.status === view.statusFilter);
  if (view.brushed) rows = rows.filter((r) => view.brushed.has(r.id)); // brushing filters the table too
  rows.sort((x, y) => {
    const c = compare(col.value(x), col.value(y));
    return c === 0 ? x.number - y.number : view.sortDir * c;
  });
  return { cols, rows };
}

function cellHtml(c, r, colorOf) {
  if (c.key === "status") {
    return `<span class="hd-dot" style="color:${STATUS_COLORS[r.status] || "inherit"}">\u25cf</span> ${esc(r.status)}` +
      (r.stopped_early ? ' <span class="hd-tag" title="stopped early by the policy">early</span>' : "");
  }
  if (c.key === "number") {
    const swatch = colorOf ? `<span class="hd-swatch" style="background:${colorOf(r)}"></span>` : "";
    return `<span class="hd-expand" title="details" aria-hidden="true">\u25b8</span>${swatch}${esc(fmt(r.number))}`;
  }
  return esc(c.text ? c.text(r) : fmt(c.value(r)));
}

function rowClass(r, view, best) {
  return ["hd-row", r.id === view.selected ? "hd-selected" : "", r.id === best ? "hd-best" : "",
    view.expanded.has(r.id) ? "hd-open" : ""].join(" ").trim();
}

function rowHtml(cols, r, view, best) {
  const cells = cols.map((c, i) => {
    const title = c.title ? ` title="${esc(c.title(r))}"` : "";
    const pin = c.pin ? ` class="hd-pin hd-pin-${i}"` : "";
    return `<td${pin}${title}>${cellHtml(c, r, view.colorOf)}</td>`;
  }).join("");
  const tr = `<tr data-run="${esc(r.id)}" data-status="${esc(r.status)}" class="${rowClass(r, view, best)}" tabindex="0" ` +
    `aria-selected="${r.id === view.selected}" aria-expanded="${view.expanded.has(r.id)}">${cells}</tr>`;
  return view.expanded.has(r.id) ? tr + detailHtml(cols, r) : tr;
}

function detailHtml(cols, r) {
  const parts = [`<div><b>run</b> <code>${esc(r.id)}</code></div>`];
  if (r.stop_reason) parts.push(`<div><b>stop reason</b> ${esc(r.stop_reason)}</div>`);
  const params = Object.entries(r.params || {}).map(([k, v]) => `${esc(k)} = ${esc(fmt(v))}`).join(", ");
  if (params) parts.push(`<div><b>parameters</b> ${params}</div>`);
  if (r.error) parts.push(`<div><b>error</b></div><pre class="hd-traceback">${esc(r.error)}</pre>`);
  parts.push(`<div class="hd-run-detail" data-run="${esc(r.id)}"></div>`); // filled by rundetail.js
  return `<tr class="hd-detail" data-detail="${esc(r.id)}"><td colspan="${cols.length}"><div class="hd-detail-box">${parts.join("")}</div></td></tr>`;
}

function headHtml(cols, view) {
  return cols.map((c, i) => {
    const sorted = c.key === view.sortKey;
    const arrow = sorted ? (view.sortDir > 0 ? " \u25b2" : " \u25bc") : "";
    const aria = sorted ? (view.sortDir > 0 ? "ascending" : "descending") : "none";
    const pin = c.pin ? ` hd-pin hd-pin-${i}` : "";
    const title = c.head ? `${c.label}: ${c.head}` : `sort by ${c.label}`;
    return `<th data-key="${esc(c.key)}" class="hd-sortable${pin}" tabindex="0" scope="col" aria-sort="${aria}" title="${esc(title)}">${esc(c.label)}${arrow}</th>`;
  }).join("");
}

// at most this many rows are in the DOM (the first, in the table's order) until "show all" is asked:
// a thousand rows make every change of a cell a layout of them all
export const MAX_ROWS = 200;

// Draw the table; `changed` (a Set of ids, or null for "anything") lets an update patch rows in place.
// Returns [rows matching the filters, rows drawn].
export function renderTable(table, state, view, changed = null) {
  const visible = visibleRows(state, view);
  const cols = visible.cols;
  const rows = view.allRows ? visible.rows : visible.rows.slice(0, MAX_ROWS);
  const matching = visible.rows.length;
  const best = (state.header || {}).best_run;
  const ids = rows.map((r) => r.id);
  const headKey = JSON.stringify([cols.map((c) => c.key + c.label), view.sortKey, view.sortDir]);
  const bodyKey = JSON.stringify([ids, [...view.expanded].filter((id) => ids.includes(id))]);
  if (table.__hdHead !== headKey || !table.tHead) {
    table.__hdHead = headKey;
    table.innerHTML = `<thead><tr>${headHtml(cols, view)}</tr></thead><tbody></tbody>`;
    table.__hdBody = null;
  }
  const body = table.tBodies[0];
  if (table.__hdBody !== bodyKey || changed === null) {
    table.__hdBody = bodyKey;
    body.innerHTML = rows.map((r) => rowHtml(cols, r, view, best)).join("");
    table.dataset.patched = "0";
    return [matching, rows.length];
  }
  // same rows in the same order: patch the changed ones, and the classes (best, selected) of all
  let patched = 0;
  for (const tr of body.rows) {
    const id = tr.dataset.run;
    if (!id) continue;
    const r = state.runs[id];
    const cls = rowClass(r, view, best);
    if (tr.className !== cls) tr.className = cls;
    if (tr.getAttribute("aria-selected") !== String(r.id === view.selected)) tr.setAttribute("aria-selected", String(r.id === view.selected));
    if (!changed.has(id)) continue;
    patched += 1;
    if (tr.dataset.status !== r.status) tr.dataset.status = r.status;
    cols.forEach((c, i) => {
      const td = tr.cells[i];
      const html = cellHtml(c, r, view.colorOf);
      if (td.__hd !== html) { td.__hd = html; td.innerHTML = html; }
      if (c.title) { const t = c.title(r); if (td.title !== t) td.title = t; }
    });
  }
  table.dataset.patched = String(patched);
  return [matching, rows.length];
}

// the durations of running runs tick: refresh that column's text only
export function tickDurations(table, state) {
  const cols = columns(state);
  const k = cols.findIndex((c) => c.key === "duration");
  if (k < 0 || !table.tBodies[0]) return;
  for (const tr of table.tBodies[0].rows) {
    const r = tr.dataset.run && state.runs[tr.dataset.run];
    if (!r || r.ended || !r.started) continue;
    const text = cols[k].text(r);
    if (tr.cells[k] && tr.cells[k].textContent !== text) tr.cells[k].textContent = text;
  }
}
