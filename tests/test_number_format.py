"""One number format in every view: Python's ``format_number`` (static HTML, text views, the server)
and every JavaScript formatter (the widget's ``fmt`` in js/src/state.js, which the sidebar's
experiment tab and the /hdnotebook page draw with too, and the experiment list's in hdviews.js)
write the same text for the same value, and plotly's ticks and hover values (d3-format, as the charts
spell it) agree for every non-integer from 1e-6 to 1e21. Runs the JavaScript in ``node``."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import pytest

from hdnotebook._format import format_number

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE = shutil.which("node")

#: ints, floats around every switch of JavaScript's number text (1e-7, 1e21), exact ties of the 4th
#: digit (JavaScript rounds them up), negative values, non-finite values, None, booleans, text
VALUES: list = [
    None, float("nan"), float("inf"), float("-inf"), True, False, "adam", "",
    0, -0.0, 1, -1, 2.0, 7, 65536, 123456, -123456, 10**20, 10**21, 2**53,
    0.5, 0.1 + 0.2, 1 / 3, -2 / 3, 3.14159, 2.675, 0.125,
    1e-7, 1.23e-7, -1.23456e-7, 1e-6, 1.5e-6, 0.000123, -0.000123, -0.000123456, 0.001, 0.00012345,
    123456.7, 99999.5, 12345678.9, 9.9995, 1234.5, -1234.5, 1.0625, 0.98765,
    1e16, 1e21, 1.5e21, 2.5e22, -1e300, 5e-324,
]


def _encode(v):
    """JSON that node can read back (non-finite floats as tagged strings)."""
    if isinstance(v, float) and not math.isfinite(v):
        return {"nonfinite": str(v)}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
        return {"float": float(v)}  # a JavaScript number can only be a double
    return v


_SCRIPT = r"""
const path = require("path");
const repo = process.argv[1];
const values = JSON.parse(require("fs").readFileSync(0, "utf8")).map((v) => {
  if (v && typeof v === "object" && "nonfinite" in v) return { nan: NaN, inf: Infinity, "-inf": -Infinity }[v.nonfinite];
  if (v && typeof v === "object" && "float" in v) return v.float;
  return v;
});
const list = require(path.join(repo, "hdnotebook/server/static/hdviews.js"));
let d3 = null; // plotly's number formatting, from the widget's npm dependencies when installed
try { d3 = require(path.join(repo, "js/node_modules/d3-format")); } catch (e) { /* not installed */ }
import(path.join(repo, "js/src/state.js")).then((state) => {
  const plotly = d3 ? values.map((v) => (typeof v === "number" ? d3.format(state.PLOTLY_NUMBER)(v) : null)) : null;
  process.stdout.write(JSON.stringify({ widget: values.map(state.fmt), list: values.map(list.format), plotly }));
});
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/test.sh installs it)")
def test_every_javascript_formatter_writes_what_python_writes() -> None:
    assert len(VALUES) >= 40
    out = subprocess.run([NODE, "-e", _SCRIPT, REPO], input=json.dumps([_encode(v) for v in VALUES]),
                         capture_output=True, text=True, timeout=60, check=True)
    shown = json.loads(out.stdout)
    want = [format_number(v) for v in VALUES]
    for name in ("widget", "list"):
        wrong = [(v, p, j) for v, p, j in zip(VALUES, want, shown[name]) if p != j]
        assert not wrong, f"{name}: (value, Python, JavaScript) that differ: {wrong}"
    # the charts' ticks and hover values (plotly, d3-format): the same for non-integers from 1e-6 to 1e21
    # d3-format is in js/package-lock.json (plotly's): the JS build that scripts/test.sh runs installs it
    assert shown["plotly"] is not None, "js/node_modules has no d3-format: run `npm ci` in js/ (scripts/test.sh does)"
    charted = [(v, p, j) for v, p, j in zip(VALUES, want, shown["plotly"])
               if isinstance(v, float) and math.isfinite(v) and v != int(v) and 1e-6 <= abs(v) < 1e21]
    assert len(charted) >= 20
    wrong = [c for c in charted if c[1] != c[2]]
    assert not wrong, f"plotly: (value, Python, d3) that differ: {wrong}"


def test_the_cases_that_tell_formats_apart() -> None:
    """What the test above holds JavaScript to, spelled out (it fails if format_number drifts)."""
    assert [format_number(v) for v in (1234.5, -1234.5, 1.0625, 123456.7, 123456, 1e21, 1e-7, None, float("nan"))] == [
        "1235", "-1235", "1.063", "123500", "123456", "1e+21", "1e-7", "", "NaN"]
