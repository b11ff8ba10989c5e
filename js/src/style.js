// The widget's CSS, scoped under .hdnotebook-rundetails. Every colour is a JupyterLab theme variable
// (with a light fallback for pages without JupyterLab), so the widget follows light and dark themes.
export const CSS = `
.hdnotebook-rundetails { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); padding: 4px 0; min-width: 0; max-width: 100%; box-sizing: border-box; }
.hdnotebook-rundetails .hd-title { font-size: 14px; margin-bottom: 4px; }
.hdnotebook-rundetails .hd-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 11px;
  text-shadow: 0 0 2px rgba(0,0,0,0.8); }
.hdnotebook-rundetails .hd-progress { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.hdnotebook-rundetails .hd-bar { width: 240px; height: 10px; background: var(--jp-layout-color3, #e3e3e3); border-radius: 5px; overflow: hidden; display: flex; }
.hdnotebook-rundetails .hd-fill { height: 100%; }
.hdnotebook-rundetails .hd-stats { color: var(--jp-ui-font-color1, #333); margin: 2px 0; }
.hdnotebook-rundetails .hd-warning { background: var(--jp-warn-color3, #fff4ce); border: 1px solid var(--jp-warn-color1, #e6c200);
  color: var(--jp-ui-font-color0, #5c4a00); padding: 3px 6px; margin: 4px 0; border-radius: 3px; }
.hdnotebook-rundetails .hd-controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 6px 0; }
.hdnotebook-rundetails .hd-controls button, .hdnotebook-rundetails .hd-controls select {
  color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, #fff); border: 1px solid var(--jp-border-color1, #bbb);
  border-radius: 2px; padding: 2px 6px; font: inherit; }
.hdnotebook-rundetails .hd-controls button { cursor: pointer; }
.hdnotebook-rundetails .hd-controls button:disabled { color: var(--jp-ui-font-color3, #999); cursor: default; }
.hdnotebook-rundetails .hd-cancel-note { color: var(--jp-ui-font-color1, #333); }
.hdnotebook-rundetails .hd-table-wrap { max-height: 300px; overflow: auto; border: 1px solid var(--jp-border-color2, #ddd); max-width: 100%; }
.hdnotebook-rundetails table.hd-table { border-collapse: separate; border-spacing: 0; min-width: 100%; }
.hdnotebook-rundetails table.hd-table th { position: sticky; top: 0; z-index: 2; background: var(--jp-layout-color2, #f3f3f3);
  color: var(--jp-ui-font-color1, #222); cursor: pointer; text-align: left; padding: 3px 6px; white-space: nowrap; user-select: none; }
.hdnotebook-rundetails table.hd-table th:focus-visible, .hdnotebook-rundetails table.hd-table tr:focus-visible {
  outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: -2px; }
.hdnotebook-rundetails table.hd-table td { padding: 2px 6px; white-space: nowrap; max-width: 360px; overflow: hidden; text-overflow: ellipsis;
  border-top: 1px solid var(--jp-border-color3, #eee); background: var(--jp-layout-color0, #fff); }
/* pinned on the left: run number, status, best metric (fixed widths, so the offsets are known) */
.hdnotebook-rundetails table.hd-table .hd-pin { position: sticky; z-index: 1; }
.hdnotebook-rundetails table.hd-table th.hd-pin { z-index: 3; }
.hdnotebook-rundetails table.hd-table .hd-pin-0 { left: 0; min-width: 4.2em; max-width: 4.2em; }
/* the status column fits "Canceled" and its "early" tag (tests/test_widget_layout_browser.py checks it is not clipped) */
.hdnotebook-rundetails table.hd-table .hd-pin-1 { left: calc(4.2em + 12px); min-width: 10.2em; max-width: 10.2em; }
.hdnotebook-rundetails table.hd-table .hd-pin-2 { left: calc(14.4em + 24px); min-width: 7em; max-width: 9em;
  border-right: 1px solid var(--jp-border-color1, #bbb); }
.hdnotebook-rundetails table.hd-table tbody tr { cursor: pointer; }
.hdnotebook-rundetails table.hd-table tbody tr:hover td { background: var(--jp-layout-color2, #f5f5f5); }
.hdnotebook-rundetails table.hd-table tr.hd-best td { font-weight: bold; }
.hdnotebook-rundetails table.hd-table tr.hd-selected td { background: var(--jp-brand-color3, #bbdefb); color: var(--jp-ui-font-color0, #000); }
.hdnotebook-rundetails .hd-expand { display: inline-block; width: 1.1em; transition: transform 0.1s; color: var(--jp-ui-font-color2, #555); }
.hdnotebook-rundetails tr.hd-open .hd-expand { transform: rotate(90deg); }
.hdnotebook-rundetails .hd-swatch { display: inline-block; width: 8px; height: 8px; margin-right: 4px; border-radius: 2px; }
.hdnotebook-rundetails .hd-tag { display: inline-block; font-size: 10px; line-height: 1.2; padding: 0 3px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 6px;
  color: var(--jp-ui-font-color1, #333); }
.hdnotebook-rundetails tr.hd-detail td { white-space: normal; max-width: none; cursor: default; }
.hdnotebook-rundetails .hd-detail-box { position: sticky; left: 0; max-width: min(100%, 900px); padding: 4px 2px; }
.hdnotebook-rundetails pre.hd-traceback { font-family: var(--jp-code-font-family, monospace); font-size: 11px; max-height: 220px; overflow: auto;
  background: var(--jp-layout-color2, #f5f5f5); color: var(--jp-ui-font-color0, #000); padding: 4px; margin: 2px 0; white-space: pre; }
.hdnotebook-rundetails .hd-charts { display: grid; grid-template-columns: minmax(0, 1fr); gap: 4px; margin-top: 6px; min-width: 0; }
.hdnotebook-rundetails .hd-chart { min-width: 0; overflow: hidden; }
.hdnotebook-rundetails svg.hd-overlay { position: absolute; overflow: hidden; pointer-events: none; z-index: 1; will-change: transform; }
/* the charts on layers of their own: an update of the overlay or the table does not repaint their many paths */
.hdnotebook-rundetails .hd-chart .svg-container { will-change: transform; }
.hdnotebook-rundetails svg.hd-overlay path { fill: none; stroke-linecap: round; stroke-linejoin: round; pointer-events: visibleStroke; cursor: pointer; }
.hdnotebook-rundetails svg.hd-overlay circle, .hdnotebook-rundetails svg.hd-overlay path.hd-marker { pointer-events: visiblePainted; cursor: pointer; }
.hdnotebook-rundetails .hd-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; color: var(--jp-ui-font-color1, #333); font-size: 11px; }
.hdnotebook-rundetails .hd-legend > span { display: inline-flex; align-items: center; gap: 4px; }
.hdnotebook-rundetails .hd-ramp { display: inline-block; width: 60px; height: 8px; border-radius: 2px; }
.hdnotebook-rundetails .hd-cat { display: inline-flex; align-items: center; margin-right: 6px; }
.hdnotebook-rundetails .hd-brush-bar { display: flex; gap: 12px; color: var(--jp-ui-font-color1, #333); font-size: 11px; margin-bottom: -4px; }
`;
