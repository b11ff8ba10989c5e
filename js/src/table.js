// The runs table: sortable by any column, filterable by status, one row selectable.
import { STATUS_COLORS, duration, fmt, fmtSeconds } from "./state.js";

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function columns(state) {
  const meta = state.meta || { axes: [], primary: "" };
  const cols = [
    { key: "number", label: "#", value: (r) => r.number },
    { key: "id", label: "run", value: (r) => r.id },
    { key: "status", label: "status", value: (r) => r.status },
  ];
  for (const a of meta.axes) cols.push({ key: `p:${a.name}`, label: a.name, value: (r) => r.params[a.name], title: () => a.expr });
  cols.push(
    { key: "best", label: `${meta.primary} best`, value: (r) => r.best },
    { key: "last", label: `${meta.primary} last`, value: (r) => r.last },
    { key: "intervals", label: "intervals", value: (r) => r.intervals },
    { key: "duration", label: "duration", value: (r) => duration(r, state), text: (r) => { const d = duration(r, state); return d === null ? "" : fmtSeconds(d); } },
    { key: "stop", label: "stop reason", value: (r) => r.stop_reason || r.error || "", title: (r) => r.stop_reason || r.error || "" },
  );
  return cols;
}

function compare(a, b) {
  const na = a === null || a === undefined || a === "";
  const nb = b === null || b === undefined || b === "";
  if (na || nb) return na && nb ? 0 : na ? 1 : -1; // empty last
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// view = { sortKey, sortDir (1|-1), statusFilter ("" = all), selected, brushOnly, brushed (Set of ids | null) }
export function visibleRows(state, view) {
  const cols = columns(state);
  const col = cols.find((c) => c.key === view.sortKey) || cols[0];
  let rows = state.order.map((id) => state.runs[id]);
  if (view.statusFilter) rows = rows.filter((r) => r.status === view.statusFilter);
  if (view.brushOnly && view.brushed) rows = rows.filter((r) => view.brushed.has(r.id));
  rows.sort((x, y) => {
    const c = compare(col.value(x), col.value(y));
    return c === 0 ? x.number - y.number : view.sortDir * c;
  });
  return { cols, rows };
}

export function renderTable(table, state, view) {
  const { cols, rows } = visibleRows(state, view);
  const best = (state.header || {}).best_run;
  const head = cols.map((c) => {
    const arrow = c.key === view.sortKey ? (view.sortDir > 0 ? " \u25b2" : " \u25bc") : "";
    return `<th data-key="${esc(c.key)}" title="sort by ${esc(c.label)}">${esc(c.label)}${arrow}</th>`;
  }).join("");
  const body = rows.map((r) => {
    const cls = [r.id === view.selected ? "hd-selected" : "", r.id === best ? "hd-best" : ""].join(" ").trim();
    const cells = cols.map((c) => {
      const text = c.text ? c.text(r) : fmt(c.value(r));
      const title = c.title ? ` title="${esc(c.title(r))}"` : "";
      if (c.key === "status") {
        return `<td class="hd-status"><span style="color:${STATUS_COLORS[r.status] || "#000"}">\u25cf</span> ${esc(r.status)}</td>`;
      }
      return `<td${title}>${esc(text)}</td>`;
    }).join("");
    return `<tr data-run="${esc(r.id)}" data-status="${esc(r.status)}" class="${cls}">${cells}</tr>`;
  }).join("");
  table.innerHTML = `<thead><tr>${head}</tr></thead><tbody>${body}</tbody>`;
  return rows.length;
}
