// "Why the best run wins": the insight panel of RunDetails, redrawn as runs finish.
//
// - importance: the share of the primary metric's variance each hyperparameter explains (computed
//   in Python by HyperDriveRun.get_param_importances over the Completed runs; carried in the header),
//   as plain bars;
// - slices: the best primary value of each finished run against each hyperparameter (log axes for
//   log expressions, categories for choice: the axes of the parent's space, as the other charts);
// - a contour of the primary metric over the two most important hyperparameters (the grid comes
//   from Python, meta.contour: hdnotebook.insight.param_contour over the Completed runs' best
//   values, the same as HyperDriveRun.get_param_contour), on log axes for log expressions, with the
//   runs it was made from (the Completed rows) as points; before 3 runs Completed, a scatter of the finished runs;
// - a timeline: which lane ran which run, when (the lane the engine recorded in each run's details),
//   and which the policy stopped.
import { PLOTLY_NUMBER, TERMINAL, fmt } from "./state.js";
import { STATUS_COLORS } from "./theme.js";
import { esc } from "./page.js";

// lanes: the one the engine recorded for each run (row.lane); for runs of an older store that has
// none, each run goes to the lowest lane free at its start (the packing the engine's lanes make).
// Returns {lane: {id: lane}, recorded: whether the engine's lanes were used}.
export function timelineLanes(state) {
  const runs = state.order.map((id) => state.runs[id]).filter((r) => r.started);
  if (runs.every((r) => Number.isInteger(r.lane))) {
    return { lane: Object.fromEntries(runs.map((r) => [r.id, r.lane])), recorded: true };
  }
  runs.sort((a, b) => a.started - b.started);
  const freeAt = [];
  const slot = {};
  for (const r of runs) {
    let k = freeAt.findIndex((t) => t <= r.started + 1e-6);
    if (k < 0) { k = freeAt.length; freeAt.push(0); }
    freeAt[k] = r.ended || Infinity;
    slot[r.id] = k;
  }
  return { lane: slot, recorded: false };
}

function finished(state) {
  return state.order.map((id) => state.runs[id]).filter((r) => TERMINAL.has(r.status) && r.status !== "Failed" && r.best !== null && r.best !== undefined);
}

function axisLayout(axis, theme) {
  const base = { title: { text: axis.name, font: { size: 11, color: theme.font } }, color: theme.font2, gridcolor: theme.grid, zeroline: false };
  if (axis.categorical) return { ...base, type: "category" };
  return { ...base, type: axis.log ? "log" : "linear" };
}

export function mountInsight({ container }) {
  const box = document.createElement("details");
  box.className = "hd-insight";
  box.open = true;
  box.innerHTML = `
    <summary>Why the best run wins</summary>
    <div class="hd-importance" aria-label="hyperparameter importance"></div>
    <div class="hd-slices"></div>
    <div class="hd-ichart hd-top2" role="img"></div>
    <div class="hd-ichart hd-timeline" role="img"></div>`;
  container.appendChild(box);
  const q = (s) => box.querySelector(s);
  const ui = { importance: q(".hd-importance"), slices: q(".hd-slices"), top2: q(".hd-top2"), timeline: q(".hd-timeline") };
  let lastSig = "";

  function drawImportance(state) {
    const imp = (state.header && state.header.importance) || {};
    let html;
    if (imp.values && Object.keys(imp.values).length) {
      html = `<div class="hd-imp-title">importance of each hyperparameter for ${esc(state.meta.primary)} (over ${imp.runs} completed runs)</div>` +
        Object.entries(imp.values).map(([name, v]) => `<div class="hd-imp-row" data-param="${esc(name)}" data-value="${v}">
          <span class="hd-imp-name">${esc(name)}</span><span class="hd-imp-bar" style="width:${Math.round(300 * v)}px"></span>
          <span class="hd-imp-value">${(100 * v).toFixed(1)} %</span></div>`).join("");
    } else {
      html = `<div class="hd-imp-title">importance: ${esc(imp.note || "waiting for completed runs")}</div>`;
    }
    if (ui.importance.__hd !== html) { ui.importance.__hd = html; ui.importance.innerHTML = html; }
  }

  // `width`: the widget's chart width; the charts here take the panel's own inner width (it has a
  // border and padding), so they never stick out of it
  function draw(Plotly, state, theme, width) {
    if (!state.meta || !Plotly) return;
    width = Math.max(200, Math.floor(ui.slices.clientWidth) || width);
    drawImportance(state);
    const done = finished(state);
    const sig = JSON.stringify([width, theme.font, state.order.length, done.map((r) => [r.id, r.best, r.status, r.ended]),
      (state.header || {}).importance, state.meta.contour && [state.meta.contour.zmin, state.meta.contour.zmax, state.meta.contour.trials],
      state.order.map((id) => [state.runs[id].started, state.runs[id].lane])]);
    if (sig === lastSig) return;
    lastSig = sig;
    const axes = state.meta.axes || [];
    const primary = state.meta.primary;
    const layoutBase = { paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: theme.font, size: 11 },
      margin: { l: 56, r: 12, t: 26, b: 40 }, showlegend: false };
    const colors = done.map((r) => STATUS_COLORS[r.status] || "#555");
    // slices: one small chart per hyperparameter
    const per = Math.max(220, Math.floor(width / Math.min(Math.max(axes.length, 1), 3)) - 8);
    while (ui.slices.children.length < axes.length) {
      const div = document.createElement("div");
      div.className = "hd-ichart hd-slice";
      div.setAttribute("role", "img");
      ui.slices.appendChild(div);
    }
    axes.forEach((axis, i) => {
      const div = ui.slices.children[i];
      div.dataset.param = axis.name;
      div.dataset.points = String(done.length);
      div.setAttribute("aria-label", `${primary} against ${axis.name}, one point per finished run`);
      Plotly.react(div, [{ type: "scatter", mode: "markers", x: done.map((r) => r.params[axis.name]), y: done.map((r) => r.best),
        customdata: done.map((r) => r.id), text: done.map((r) => `run #${r.number}: ${fmt(r.best)}`), hoverinfo: "text",
        marker: { color: colors, size: 7 } }],
        { ...layoutBase, width: per, height: 200, title: { text: `${primary} vs ${axis.name}`, font: { size: 11 } },
          xaxis: axisLayout(axis, theme), yaxis: { color: theme.font2, gridcolor: theme.grid, title: { text: primary } } },
        { displaylogo: false, responsive: false });
    });
    // the two most important hyperparameters: a contour of the metric over them, the runs as points
    const contour = state.meta.contour;
    const axisOf = (c) => ({ name: c.name, log: c.log, categorical: c.categorical });
    if (contour && contour.z && contour.x.values.length > 1 && contour.y.values.length > 1) {
      const [cx, cy] = [contour.x, contour.y];
      const used = done.filter((r) => r.status === "Completed"); // the runs the grid was made from
      ui.top2.dataset.kind = "contour";
      ui.top2.dataset.params = `${cx.name},${cy.name}`;
      ui.top2.dataset.zmin = String(contour.zmin);
      ui.top2.dataset.zmax = String(contour.zmax);
      ui.top2.setAttribute("aria-label", `contour of ${primary} over ${cx.name} and ${cy.name}, interpolated between ${contour.trials} completed runs`);
      Plotly.react(ui.top2, [
        { type: "contour", x: cx.values, y: cy.values, z: contour.z, colorscale: "Viridis", reversescale: state.meta.goal === "minimize",
          contours: { coloring: "heatmap" }, line: { width: 0.5, color: "rgba(255,255,255,0.5)" },
          colorbar: { title: { text: primary }, thickness: 10 },
          hovertemplate: `${esc(cx.name)}=%{x}<br>${esc(cy.name)}=%{y}<br>${esc(primary)} \u2248 %{z:${PLOTLY_NUMBER}}<extra></extra>` },
        { type: "scatter", mode: "markers", x: used.map((r) => r.params[cx.name]), y: used.map((r) => r.params[cy.name]),
          text: used.map((r) => `run #${r.number}: ${fmt(r.best)}`), hoverinfo: "text", customdata: used.map((r) => r.id),
          marker: { color: "rgba(255,255,255,0.85)", size: 7, line: { color: "#222", width: 1 } } }],
      { ...layoutBase, width, height: 300, title: { text: `${primary} over the two most important: ${cx.name} and ${cy.name}` },
        xaxis: axisLayout(axisOf(cx), theme), yaxis: axisLayout(axisOf(cy), theme) }, { displaylogo: false, responsive: false });
    } else {
      const imp = ((state.header || {}).importance || {}).values;
      const top = imp ? Object.keys(imp).slice(0, 2) : axes.slice(0, 2).map((a) => a.name);
      const [ax, ay] = top.map((n) => axes.find((a) => a.name === n)).filter(Boolean);
      if (ax && ay) {
        ui.top2.dataset.kind = "scatter";
        ui.top2.dataset.params = `${ax.name},${ay.name}`;
        ui.top2.setAttribute("aria-label", `${ax.name} against ${ay.name}, each finished run coloured by its best ${primary} (a contour from 3 completed runs)`);
        Plotly.react(ui.top2, [{ type: "scatter", mode: "markers", x: done.map((r) => r.params[ax.name]), y: done.map((r) => r.params[ay.name]),
          text: done.map((r) => `run #${r.number}: ${fmt(r.best)}`), hoverinfo: "text", customdata: done.map((r) => r.id),
          marker: { color: done.map((r) => r.best), colorscale: "Viridis", reversescale: state.meta.goal === "minimize", size: 10,
            showscale: true, colorbar: { title: { text: primary }, thickness: 10 } } }],
          { ...layoutBase, width, height: 260, title: { text: `the two most important: ${ax.name} and ${ay.name} (a contour from 3 completed runs)` },
            xaxis: axisLayout(ax, theme), yaxis: axisLayout(ay, theme) }, { displaylogo: false, responsive: false });
      }
    }
    // timeline: one bar per run on its lane; a cross where the policy stopped one
    const { lane: slot, recorded } = timelineLanes(state);
    const t0 = (state.header && state.header.started) || Math.min(...state.order.map((id) => state.runs[id].started || Infinity));
    const now = (state.header && (state.header.ended || state.header.now)) || Date.now() / 1000;
    // one trace per status (bars as null-separated segments) and one for the crosses: a thousand
    // runs are a handful of traces, not a thousand
    const byStatus = new Map();
    const crosses = { type: "scatter", mode: "markers", x: [], y: [], text: [], customdata: [], hoverinfo: "text", meta: "timeline:stopped",
      marker: { symbol: "x", size: 11, color: theme.font } };
    for (const id of state.order) {
      const r = state.runs[id];
      if (!(id in slot)) continue;
      const end = r.ended || now;
      // a bar per run; a tick in the background colour where it starts, so back-to-back runs on a lane part
      let t = byStatus.get(r.status);
      if (!t) {
        t = { type: "scatter", mode: "lines+markers", x: [], y: [], text: [], customdata: [], hoverinfo: "text", meta: `timeline:${r.status}`,
          line: { color: STATUS_COLORS[r.status] || "#555", width: 10 },
          marker: { symbol: "line-ns", size: [], line: { color: theme.bg || "#fff", width: 2 } } };
        byStatus.set(r.status, t);
      }
      const label = `run #${r.number} (${r.status})${r.stop_reason ? ": " + r.stop_reason : ""}`;
      t.x.push(r.started - t0, end - t0, null); t.y.push(slot[id], slot[id], null);
      t.text.push(label, label, ""); t.customdata.push(id, id, null); t.marker.size.push(12, 0, 0);
      if (r.stopped_early) {
        crosses.x.push(end - t0); crosses.y.push(slot[id]);
        crosses.text.push(`stopped by the policy: ${r.stop_reason || ""}`); crosses.customdata.push(id);
      }
    }
    const traces = [...byStatus.values(), ...(crosses.x.length ? [crosses] : [])];
    const slots = Math.max(1, ...Object.values(slot).map((k) => k + 1));
    ui.timeline.dataset.runs = String(Object.keys(slot).length);
    ui.timeline.dataset.slots = String(slots);
    ui.timeline.dataset.lanes = recorded ? "engine" : "packed";
    ui.timeline.setAttribute("aria-label", `timeline: which lane ran which run, when (${slots} lanes)`);
    Plotly.react(ui.timeline, traces, { ...layoutBase, width, height: Math.max(120, 40 + 26 * slots),
      title: { text: "timeline: runs per lane (\u00d7 = stopped by the policy)" },
      xaxis: { title: { text: "seconds since start" }, color: theme.font2, gridcolor: theme.grid, zeroline: false },
      yaxis: { title: { text: "lane" }, dtick: 1, color: theme.font2, gridcolor: theme.grid, autorange: "reversed" } },
    { displaylogo: false, responsive: false });
  }

  return { draw };
}

export const INSIGHT_CSS = `
.hdnotebook-rundetails .hd-insight { margin: 6px 0; border: 1px solid var(--jp-border-color2, #ddd); border-radius: 3px; padding: 2px 6px; }
.hdnotebook-rundetails .hd-insight summary { cursor: pointer; font-weight: 600; }
.hdnotebook-rundetails .hd-slices { display: flex; flex-wrap: wrap; gap: 8px; }
/* off screen, the insight charts (thousands of markers with many runs) are neither painted nor layered */
.hdnotebook-rundetails .hd-ichart { content-visibility: auto; contain-intrinsic-size: auto 200px; }
.hdnotebook-rundetails .hd-imp-row { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.hdnotebook-rundetails .hd-imp-name { width: 140px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.hdnotebook-rundetails .hd-imp-bar { display: inline-block; height: 10px; background: var(--jp-brand-color1, #1976d2); border-radius: 2px; }
.hdnotebook-rundetails .hd-imp-title { margin: 4px 0; color: var(--jp-ui-font-color1, #333); }
`;
