"""RunDetails follows its box and the theme, in a real JupyterLab 4 driven by headless Chromium.

- Resize: at 1280 px, 800 px and 1280 px again, and with the left sidebar closed and reopened, every
  chart is as wide as the widget's chart area, its SVG as tall as its box, and no two boxes overlap.
- Theme: in JupyterLab Light and JupyterLab Dark, every text of every chart has a contrast of at
  least 4.5:1 (WCAG AA) against the background behind the widget, computed from the DOM; the
  widget re-styles when the theme changes, without a reload.

Screenshots (800 px, both themes) go to ``test-artifacts/``.
"""

from __future__ import annotations

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
    for (const t of el.querySelectorAll('.hd-chart svg text')) {{
      if (!t.textContent.trim() || getComputedStyle(t).display === 'none') continue;
      const s = getComputedStyle(t);
      let c = rgb(s.fill);
      const a = (c.length > 3 ? c[3] : 1) * Number(s.fillOpacity || 1);
      c = c.slice(0, 3).map((v, i) => v * a + bg[i] * (1 - a));  // blended over the background
      const [l1, l2] = [lum(c), lum(bg)].sort((x, y) => y - x);
      out.push({{text: t.textContent.slice(0, 30), ratio: (l1 + 0.05) / (l2 + 0.05), fill: s.fill}});
    }}
    return {{bg, texts: out, theme: document.body.dataset.jpThemeName}};
}}"""


def _settle(page, draws_before: int | None = None) -> dict:
    """Wait until the widget has redrawn (if asked) and its geometry stops changing."""
    if draws_before is not None:
        page.wait_for_function(
            f"() => Number(document.querySelector('{W}').dataset.draws) > {draws_before}", timeout=15_000)
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


def _change_theme(page, name: str) -> None:
    page.locator(".lm-MenuBar-item", has_text="Settings").first.click()
    page.locator(".lm-Menu-item:visible", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item:visible", has_text=name).first.click()
    page.wait_for_function(f"() => document.body.dataset.jpThemeName === {name!r}", timeout=15_000)


def _check_contrast(page, label: str) -> float:
    page.wait_for_timeout(1200)  # the theme's CSS, then the widget's re-read of it
    result = page.evaluate(CONTRAST)
    assert len(result["texts"]) >= 20, (label, result)
    worst = min(result["texts"], key=lambda t: t["ratio"])
    assert worst["ratio"] >= 4.5, (label, worst, result["bg"])
    return worst["ratio"]


def test_charts_follow_resize_sidebar_and_theme(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "layout.ipynb", [SETUP, "RunDetails(run)"])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            try:
                open_notebook(page, server, "layout.ipynb")
                run_all_cells(page)
                page.wait_for_function(
                    f"() => {{ const el = document.querySelector('{W}'); return el && el.dataset.status === 'Completed'"
                    f" && el.dataset.runs === '{RUNS}' && el.querySelectorAll('.hd-curves .scatterlayer .trace').length === {RUNS}; }}",
                    timeout=90_000)
                widths = {}
                geo = _settle(page)
                _check_geometry(geo, "1280")
                widths[1280] = geo["area"]
                for width, label in ((800, "800"), (1280, "1280 again")):
                    page.set_viewport_size({"width": width, "height": 2200})
                    geo = _settle(page, geo["draws"])
                    _check_geometry(geo, label)
                    widths[label] = geo["area"]
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
    print(f"\n[layout] chart area {widths}; worst chart-text contrast light {light:.2f}, dark {dark:.2f}; "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
