// The plotly the widget draws with, built from its parts: plotly.js/lib/core (the plot machinery,
// layout components — axes incl. date axes, shapes, annotations, colour bars, legends, the mode bar
// — and the "scatter" trace type) and the "contour" trace type (the insight panel's 2-parameter
// contour; it brings heatmap's colour machinery with it). Every other chart is a "scatter" trace
// (the parallel coordinates are scatter lines too). The full plotly bundle (all ~50 trace types,
// WebGL and maps included) is ~4.9 MB minified; this one is ~1.2 MB, and each displayed RunDetails
// stores it in the notebook's widget state. Registering contour took the bundle from 1,124,200 to
// 1,186,392 bytes minified (+62 kB; gzipped 384,895 -> 408,263, +23 kB).
//
// To draw a new trace type, register it here, e.g.
//   import bar from "plotly.js/lib/bar";
//   Plotly.register([bar]);
import Plotly from "plotly.js/lib/core";
import contour from "plotly.js/lib/contour";

Plotly.register([contour]);

export default Plotly;
