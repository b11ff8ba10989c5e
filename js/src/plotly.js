// The plotly the widget draws with, built from its parts: plotly.js/lib/core (the plot machinery,
// layout components — axes incl. date axes, shapes, annotations, colour bars, legends, the mode bar
// — and the "scatter" trace type). Every chart in charts.js is a "scatter" trace (the parallel
// coordinates are scatter lines too), so no other trace type is registered. The full plotly bundle
// (all ~50 trace types, WebGL and maps included) is ~4.9 MB minified; this one is ~1 MB, and each
// displayed RunDetails stores it in the notebook's widget state.
//
// To draw a new trace type, register it here, e.g.
//   import bar from "plotly.js/lib/bar";
//   Plotly.register([bar]);
import Plotly from "plotly.js/lib/core";

export default Plotly;
