"""RunDetails follows its box and the theme, in a real JupyterLab 4 driven by headless Chromium.

- Resize: at 1280 px, 800 px and 1280 px again, and with the left sidebar closed and reopened, every
  chart is as wide as the widget's chart area, its SVG as tall as its box, and no two boxes overlap.
  The insight panel's charts (``.hd-ichart``) stay inside the panel and their SVGs inside their boxes.
- Theme: in JupyterLab Light and JupyterLab Dark, every text of every chart, the insight charts
  included, has a contrast of at least 4.5:1 (WCAG AA) against the background behind the widget,
  computed from the DOM; the widget re-styles when the theme changes, without a reload.
- The pinned status column shows a stopped-early run's "early" tag whole at 800 and 1280 px
  (no cell is clipped: scrollWidth <= clientWidth), on an experiment with runs stopped early.
- "colour by": a log hyperparameter colours the curves on a log viridis scale, a choice one colour
  per value; the parallel coordinates use the same colour for each run, and the legend and colour
  bar say what it is.

Screenshots (800 px, both themes) go to ``test-artifacts/``.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from pathlib import Path

from browser.jupyter import (
    JupyterServer,
    browser_test_marks,
    chromium,
    open_notebook,
    run_all_cells,
    screenshot,
    write_notebook,
)

pytestmark = browser_test_marks()

REPO = Path(__file__).resolve().parents[1]

RUNS = 12
W = ".hdnotebook-rundetails"

SETUP = f"""
from hdnotebook import (Run, Workspace, Experiment, HyperDriveConfig, RandomParameterSampling,
                        loguniform, choice, uniform, RunDetails)

def train(lr, optimizer, dropout):
    run = Run.get_context()
    for epoch in range(4):
        run.log("accuracy", 1 - lr * (4 - epoch) - dropout / 10 - (optimizer == "sgd") / 20)

space = {{"lr": loguniform(-5, -1), "optimizer": choice("sgd", "adam"), "dropout": uniform(0, 0.5)}}
config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling(space, seed=5),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs={RUNS}, max_concurrent_runs=4)
run = Experiment(Workspace("ws"), "layout").submit(config)
run.wait_for_completion()
"""

# a second widget: 40 finished runs of which about a third were stopped early (written by hand)
EARLY = f"""
import sys
sys.path.insert(0, {str(REPO / 'bench')!r})
from widget import fill_store
from hdnotebook.store import Store
from hdnotebook.experiment_run import HyperDriveRun
early_pid = fill_store('early.sqlite', 40, 20, status='Completed')
RunDetails(HyperDriveRun(Store('early.sqlite'), early_pid))
"""

# every status cell of the second widget that carries the "early" tag: is anything in it clipped?
EARLY_TAGS = f"""() => {{
    const el = document.querySelectorAll('{W}')[1];
    return [...el.querySelectorAll('.hd-table tbody td.hd-pin-1')].filter(td => td.querySelector('.hd-tag')).map(td => {{
      const tag = td.querySelector('.hd-tag').getBoundingClientRect(), box = td.getBoundingClientRect();
      const pad = parseFloat(getComputedStyle(td).paddingRight);
      return {{scroll: td.scrollWidth, client: td.clientWidth, tagRight: tag.right, cellRight: box.right - pad}};
    }});
}}"""

# the boxes of the charts and their SVGs, and the width they should have
GEOMETRY = f"""() => {{
    const el = document.querySelector('{W}');
    const area = el.querySelector('.hd-charts').getBoundingClientRect();
    return {{area: area.width, draws: Number(el.dataset.draws),
      charts: [...el.querySelectorAll('.hd-chart')].map(div => {{
        const box = div.getBoundingClientRect();
        const svg = div.querySelector('svg.main-svg');
        const s = svg ? svg.getBoundingClientRect() : {{width: 0, height: 0, top: 0}};
        return {{name: div.className, top: box.top, bottom: box.bottom, width: box.width, height: box.height,
                 svgWidth: s.width, svgHeight: s.height, svgTop: s.top}};
      }}),
      insight: (() => {{ const box = el.querySelector('.hd-insight'), cs = getComputedStyle(box), r = box.getBoundingClientRect();
        return {{left: r.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft),
                 right: r.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight)}}; }})(),
      ichart: [...el.querySelectorAll('.hd-ichart')].map(div => {{
        const box = div.getBoundingClientRect();
        const svg = div.querySelector('svg.main-svg');
        const s = svg ? svg.getBoundingClientRect() : {{width: 0, height: 0, left: 0, right: 0}};
        return {{name: div.className, left: box.left, right: box.right, width: box.width, height: box.height,
                 svgLeft: s.left, svgRight: s.right, svgWidth: s.width, svgHeight: s.height}};
      }})}}; }}"""

# WCAG contrast of every chart text against the first opaque background behind the widget
CONTRAST = f"""() => {{
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {{
      const f = (v) => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }};
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    }};
    const el = document.querySelector('{W}');
    let node = el, bg = null;
    while (node && node !== document.documentElement) {{
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) {{ bg = c; break; }}
      node = node.parentElement;
    }}
    bg = bg || rgb(getComputedStyle(document.body).backgroundColor);
    const out = [];
    for (const t of el.querySelectorAll('.hd-chart svg text, .hd-ichart svg text')) {{
      if (!t.textContent.trim() || getComputedStyle(t).display === 'none') continue;
      const s = getComputedStyle(t);
      let c = rgb(s.fill);
      const a = (c.length > 3 ? c[3] : 1) * Number(s.fillOpacity || 1);
      c = c.slice(0, 3).map((v, i) => v * a + bg[i] * (1 - a));  // blended over the background
      const [l1, l2] = [lum(c), lum(bg)].sort((x, y) => y - x);
      out.push({{text: t.textContent.slice(0, 30), ratio: (l1 + 0.05) / (l2 + 0.05), fill: s.fill,
                 insight: !!t.closest('.hd-ichart')}});
    }}
    return {{bg, texts: out, theme: document.body.dataset.jpThemeName}};
}}"""


def _settle(page, draws_before: int | None = None) -> dict:
    """Wait until the widget has redrawn (if asked) and its geometry stops changing."""
    if draws_before is not None:
        page.wait_for_function(
            f"() => Number(document.querySelector('{W}').dataset.draws) > {draws_before}", timeout=15_000)
    # the insight panel is drawn when on screen (and again when it comes back into view): look at it
    page.locator(f"{W} .hd-insight").first.scroll_into_view_if_needed()
    last = None
    for _ in range(30):
        page.wait_for_timeout(250)
        geo = page.evaluate(GEOMETRY)
        if geo == last:
            return geo
        last = geo
    return last


def _check_geometry(geo: dict, label: str) -> None:
    charts = geo["charts"]
    assert len(charts) == 3, (label, charts)
    for c in charts:
        # the chart fills the chart area's width, and its SVG its box: nothing sticks out
        assert abs(c["width"] - geo["area"]) <= 2, (label, c, geo["area"])
        assert abs(c["svgWidth"] - c["width"]) <= 2, (label, c)
        assert abs(c["svgHeight"] - c["height"]) <= 2 and c["height"] >= 200, (label, c)
    ordered = sorted(charts, key=lambda c: c["top"])
    for a, b in zip(ordered, ordered[1:]):
        assert a["bottom"] <= b["top"] + 1, (label, "overlap", a, b)
    # the insight panel's charts: inside the panel, each SVG inside its box; the wide ones fill the panel
    ichart = geo["ichart"]
    assert len(ichart) >= 4, (label, ichart)  # 3 slices, the top two, the timeline
    panel = geo["insight"]
    for c in ichart:
        assert c["svgWidth"] > 100 and c["height"] >= 100, (label, c)
        assert abs(c["svgHeight"] - c["height"]) <= 2, (label, c)
        assert c["svgLeft"] >= panel["left"] - 2 and c["svgRight"] <= panel["right"] + 2, (label, c, panel)
        if "hd-slice" not in c["name"]:
            assert abs(c["svgWidth"] - (panel["right"] - panel["left"])) <= 2, (label, c, panel)


def _change_theme(page, name: str) -> None:
    page.locator(".lm-MenuBar-item", has_text="Settings").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item:visible", has_text=name).first.click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === {name!r}", timeout=15_000)


def _check_contrast(page, label: str) -> float:
    page.wait_for_timeout(1200)  # the theme's CSS, then the widget's re-read of it
    result = page.evaluate(CONTRAST)
    assert len(result["texts"]) >= 20, (label, result)
    assert sum(t["insight"] for t in result["texts"]) >= 20, (label, "insight chart texts", result)
    worst = min(result["texts"], key=lambda t: t["ratio"])
    assert worst["ratio"] >= 4.5, (label, worst, result["bg"])
    return worst["ratio"]


def _check_early_tags(page, label: str) -> int:
    cells = page.evaluate(EARLY_TAGS)
    assert len(cells) >= 5, (label, cells)
    for c in cells:
        assert c["scroll"] <= c["client"] and c["tagRight"] <= c["cellRight"] + 0.5, (label, c)
    return len(cells)


VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]

# the line colour of each run's trace in the curves and in the parallel coordinates (few runs: one trace each)
TRACE_COLOURS = f"""() => {{
    const el = document.querySelector('{W}');
    const of = (div) => Object.fromEntries(div.data.filter(t => typeof t.meta === 'string' && t.meta.startsWith('HD_'))
      .map(t => [t.meta, t.line.color.toLowerCase()]));
    return {{curves: of(el.querySelector('.hd-curves')), parcoords: of(el.querySelector('.hd-parcoords')),
             mode: el.querySelector('.hd-curves').dataset.colour,
             key: el.querySelector('.hd-colour-key').textContent,
             bar: [...el.querySelectorAll('.hd-parcoords .colorbar text')].map(t => t.textContent)}};
}}"""


def _colour_by(page, value: str) -> dict:
    draws = int(page.locator(W).first.get_attribute("data-draws"))
    page.locator(f"{W} .hd-colour-by").first.select_option(value)
    page.wait_for_function(f"() => Number(document.querySelector('{W}').dataset.draws) > {draws}", timeout=15_000)
    page.wait_for_timeout(300)
    return page.evaluate(TRACE_COLOURS)


def _check_colour_by(page, root: Path) -> None:
    con = sqlite3.connect(f"file:{root / 'ws' / 'hdnotebook.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        import json
        params = {rid: json.loads(p) for rid, p in con.execute("SELECT id, params FROM runs WHERE parent_id IS NOT NULL")}
    finally:
        con.close()
    assert len(params) == RUNS
    # lr is loguniform: viridis over log10(lr), the darkest at the smallest lr
    got = _colour_by(page, "p:lr")
    logs = {rid: math.log10(p["lr"]) for rid, p in params.items()}
    lo, hi = min(logs.values()), max(logs.values())
    want = {rid: VIRIDIS[round((v - lo) / (hi - lo) * (len(VIRIDIS) - 1))].lower() for rid, v in logs.items()}
    assert got["mode"] == "p:lr" and "lr (log scale)" in got["key"], got
    assert got["curves"] == want, (got["curves"], want)
    assert got["parcoords"] == want, (got["parcoords"], want)  # the parallel coordinates agree
    ticks = [f"1e{e}" for e in range(math.ceil(lo), math.floor(hi) + 1)]  # the powers of ten inside the range
    assert any("lr (log)" in t for t in got["bar"]) and len(ticks) >= 2 and set(ticks) <= set(got["bar"]), (got["bar"], ticks)
    screenshot(page, "rundetails-colour-by-lr.png")
    # optimizer is a choice: one palette colour per value, in the choice's order
    got = _colour_by(page, "p:optimizer")
    want = {rid: PALETTE[["sgd", "adam"].index(p["optimizer"])].lower() for rid, p in params.items()}
    assert got["curves"] == want and got["parcoords"] == want, got
    assert "sgd" in got["key"] and "adam" in got["key"] and {"sgd", "adam"} <= set(got["bar"]), got
    _colour_by(page, "")


def test_charts_follow_resize_sidebar_and_theme(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "layout.ipynb", [SETUP, "RunDetails(run)", EARLY])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            try:
                open_notebook(page, server, "layout.ipynb")
                run_all_cells(page)
                page.wait_for_function(
                    f"() => {{ const el = document.querySelector('{W}'); return el && el.dataset.status === 'Completed'"
                    f" && el.dataset.runs === '{RUNS}' && el.querySelectorAll('.hd-curves .scatterlayer .trace').length === {RUNS}; }}",
                    timeout=90_000)
                page.wait_for_function(f"() => document.querySelectorAll('{W}').length === 2 && "
                                       f"document.querySelectorAll('{W}')[1].dataset.runs === '40'", timeout=60_000)
                _check_colour_by(page, server.root)
                tags = {1280: _check_early_tags(page, "1280")}
                widths = {}
                geo = _settle(page)
                _check_geometry(geo, "1280")
                widths[1280] = geo["area"]
                for width, label in ((800, "800"), (1280, "1280 again")):
                    page.set_viewport_size({"width": width, "height": 2200})
                    geo = _settle(page, geo["draws"])
                    _check_geometry(geo, label)
                    widths[label] = geo["area"]
                    tags[label] = _check_early_tags(page, label)
                    table = page.locator(W).nth(1).locator(".hd-table-wrap")
                    table.scroll_into_view_if_needed()
                    (REPO / "test-artifacts").mkdir(exist_ok=True)
                    table.screenshot(path=str(REPO / "test-artifacts" / f"rundetails-early-table-{width}.png"))
                assert widths["800"] < widths[1280] - 300 and abs(widths["1280 again"] - widths[1280]) <= 2, widths
                # the left sidebar closed (the notebook gets wider) and opened again
                sidebar_open = geo["area"]
                page.keyboard.press("Control+b")
                geo = _settle(page, geo["draws"])
                _check_geometry(geo, "sidebar closed")
                assert geo["area"] > sidebar_open + 100, (geo["area"], sidebar_open)
                page.keyboard.press("Control+b")
                geo = _settle(page, geo["draws"])
                _check_geometry(geo, "sidebar open")
                assert abs(geo["area"] - sidebar_open) <= 2

                page.set_viewport_size({"width": 800, "height": 2200})
                _settle(page, geo["draws"])
                light = _check_contrast(page, "light")
                screenshot(page, "rundetails-800-light.png")
                draws = int(page.locator(W).first.get_attribute("data-draws"))
                _change_theme(page, "JupyterLab Dark")
                _settle(page, draws)
                dark = _check_contrast(page, "dark")
                screenshot(page, "rundetails-800-dark.png")
            except Exception:
                screenshot(page, "rundetails-layout-FAILED.png")
                raise
    print(f"\n[layout] chart area {widths}; early tags checked {tags}; worst chart-text contrast light {light:.2f}, dark {dark:.2f}; "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
