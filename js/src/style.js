// The widget's CSS, scoped under .hdnotebook-rundetails; uses JupyterLab's theme variables when there.
export const CSS = `
.hdnotebook-rundetails { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); padding: 4px 0; }
.hdnotebook-rundetails .hd-title { font-size: 14px; margin-bottom: 4px; }
.hdnotebook-rundetails .hd-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 11px; }
.hdnotebook-rundetails .hd-progress { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.hdnotebook-rundetails .hd-bar { width: 240px; height: 10px; background: #e3e3e3; border-radius: 5px; overflow: hidden; display: flex; }
.hdnotebook-rundetails .hd-fill { height: 100%; }
.hdnotebook-rundetails .hd-stats { color: var(--jp-ui-font-color2, #555); margin: 2px 0; }
.hdnotebook-rundetails .hd-warning { background: #fff4ce; border: 1px solid #e6c200; color: #5c4a00; padding: 3px 6px; margin: 4px 0; border-radius: 3px; }
.hdnotebook-rundetails .hd-controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 6px 0; }
.hdnotebook-rundetails .hd-controls button { cursor: pointer; }
.hdnotebook-rundetails .hd-table-wrap { max-height: 300px; overflow: auto; border: 1px solid var(--jp-border-color2, #ddd); }
.hdnotebook-rundetails table.hd-table { border-collapse: collapse; width: 100%; }
.hdnotebook-rundetails table.hd-table th { position: sticky; top: 0; background: var(--jp-layout-color2, #f3f3f3);
  cursor: pointer; text-align: left; padding: 3px 6px; white-space: nowrap; user-select: none; }
.hdnotebook-rundetails table.hd-table td { padding: 2px 6px; white-space: nowrap; max-width: 360px; overflow: hidden; text-overflow: ellipsis;
  border-top: 1px solid var(--jp-border-color3, #eee); }
.hdnotebook-rundetails table.hd-table tbody tr { cursor: pointer; }
.hdnotebook-rundetails table.hd-table tbody tr:hover { background: var(--jp-layout-color2, #f5f5f5); }
.hdnotebook-rundetails table.hd-table tr.hd-best td { font-weight: bold; }
.hdnotebook-rundetails table.hd-table tr.hd-selected td { background: #dbe9ff; color: #000; }
.hdnotebook-rundetails .hd-charts { display: grid; grid-template-columns: 1fr; gap: 4px; margin-top: 6px; }
.hdnotebook-rundetails .hd-chart { min-height: 120px; }
.hdnotebook-rundetails .hd-brush-bar { display: flex; gap: 12px; color: var(--jp-ui-font-color2, #555); font-size: 11px; margin-bottom: -4px; }
`;
