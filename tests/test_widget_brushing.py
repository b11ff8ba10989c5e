"""Brushing the parallel coordinates of RunDetails in a real JupyterLab, driven by headless Chromium.

A notebook runs a small experiment to the end and shows RunDetails; the test drags with the mouse
on the log axis ``lr`` and on the categorical axis ``optimizer``, and checks in the DOM that lines
outside the brushes are dimmed, that the note says "k of N runs selected", that the table and the
learning curves show only the brushed runs, and that a click on each axis clears its brush. Screenshots go to ``test-artifacts/``.
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

SETUP = f"""
from hdnotebook import (Workspace, Experiment, HyperDriveConfig, RandomParameterSampling, Run,
                        loguniform, choice, uniform, RunDetails)

def train(lr, optimizer, dropout):
    run = Run.get_context()
    for epoch in range(3):
        run.log("accuracy", 1 - lr * (3 - epoch) - dropout / 10 - (optimizer == "sgd") / 20)

space = {{"lr": loguniform(-5, -1), "optimizer": choice("sgd", "adam"), "dropout": uniform(0, 0.5)}}
config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling(space, seed=5),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs={RUNS}, max_concurrent_runs=4)
run = Experiment(Workspace("ws"), "brushing-test").submit(config)
run.wait_for_completion()
"""

W = ".hdnotebook-rundetails"


def _dimmed(page) -> int:
    """Parallel-coordinates lines drawn in the dimmed colour (the theme's, which the widget tells in
    ``data-dimmed``; one trace per run: fewer than 100)."""
    return page.evaluate(f"""() => {{
        const el = document.querySelector('{W}');
        const probe = document.createElement('span');
        probe.style.color = el.dataset.dimmed;
        document.body.appendChild(probe);
        const dimmed = getComputedStyle(probe).color;
        probe.remove();
        return [...el.querySelectorAll('.hd-parcoords .scatterlayer .trace path.js-line')]
            .filter(p => getComputedStyle(p).stroke === dimmed).length; }}""")


def _rows(page) -> int:
    return page.locator(f"{W} .hd-table tbody tr[data-run]").count()


def _curves(page) -> int:
    return page.locator(f"{W} .hd-curves .scatterlayer .trace").count()


def _brushed(page) -> str:
    return page.locator(f"{W} .hd-parcoords").get_attribute("data-brushed") or ""


def _note(page) -> str:
    return page.locator(f"{W} .hd-brush-note").inner_text()


def _axis_x(page, title: str) -> float:
    box = page.locator(f"{W} .hd-parcoords g.annotation", has_text=title).first.bounding_box()
    return box["x"] + box["width"] / 2


def _redrawn(page, draws: int) -> int:
    page.wait_for_function(
        f"() => Number(document.querySelector('{W}').dataset.draws) > {draws}", timeout=5_000)
    return int(page.locator(W).first.get_attribute("data-draws"))


def test_brushing_parallel_coordinates(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "brush.ipynb", [SETUP, "RunDetails(run)"])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            try:
                _check(page, server)
            except Exception:
                screenshot(page, "brushing-FAILED.png")
                raise
            ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
            assert not ours, ours
    print(f"[brushing] {time.monotonic() - t0:.1f} s", file=sys.stderr)


def _check(page, server: JupyterServer) -> None:
    open_notebook(page, server, "brush.ipynb")
    run_all_cells(page)
    page.wait_for_function(
        f"() => {{ const el = document.querySelector('{W}'); return el && el.dataset.status === 'Completed'"
        f" && el.dataset.runs === '{RUNS}' && el.querySelectorAll('.hd-parcoords .scatterlayer .trace').length"
        f" === {RUNS + 1}; }}",
        timeout=90_000,
    )
    page.wait_for_timeout(500)  # the last redraw
    draws = int(page.locator(W).first.get_attribute("data-draws"))
    assert _dimmed(page) == 0 and _brushed(page) == ""
    assert "drag vertically on an axis" in _note(page)
    page.locator(f"{W} .hd-parcoords").scroll_into_view_if_needed()
    plot = page.locator(f"{W} .hd-parcoords .nsewdrag").bounding_box()
    top, height = plot["y"], plot["height"]

    # drag down the lower half of the log axis lr: some runs in, some out
    x = _axis_x(page, "lr (log)")
    page.mouse.move(x, top + 0.45 * height)
    page.mouse.down()
    for f in (0.55, 0.7, 0.85, 0.98):
        page.mouse.move(x + 1, top + f * height)
    page.mouse.up()
    draws = _redrawn(page, draws)
    k = int(_brushed(page))
    assert 0 < k < RUNS, k
    assert f"{k} of {RUNS} runs selected" in _note(page)
    assert _dimmed(page) == RUNS - k
    assert page.locator(f"{W} .hd-parcoords .shapelayer path").count() >= 4  # 3 axes + metric + brush
    assert _rows(page) == k and _curves(page) == k  # the table and the curves show the brushed runs only
    screenshot(page, "brushing-lr.png")

    # and brush "adam" on the categorical axis optimizer: both brushes hold (AND)
    xo = _axis_x(page, "optimizer")
    adam = page.locator(f"{W} .hd-parcoords g.annotation", has_text="adam").first.bounding_box()
    ya = adam["y"] + adam["height"] / 2
    page.mouse.move(xo, ya - 6)
    page.mouse.down()
    page.mouse.move(xo, ya + 4)
    page.mouse.move(xo, ya + 12)
    page.mouse.up()
    draws = _redrawn(page, draws)
    k2 = int(_brushed(page))
    assert k2 <= k and f"{k2} of {RUNS} runs selected" in _note(page)
    assert _dimmed(page) == RUNS - k2
    adam_runs = page.locator(f"{W} .hd-table tbody tr").evaluate_all(
        "rows => rows.filter(r => r.textContent.includes('adam')).length")
    assert k2 <= adam_runs

    # the table and the curves follow both brushes
    assert _rows(page) == k2 and _curves(page) == k2
    assert f"{k2} of {RUNS} runs shown" in page.locator(f"{W} .hd-shown").inner_text()
    assert _brushed(page) == str(k2) and _dimmed(page) == RUNS - k2
    screenshot(page, "brushing-lr-and-optimizer.png")

    # a click on an axis (no drag) clears its brush; clearing both brings every line back. Each
    # click waits first: plotly takes a click within 300 ms of the last mouse-up for a double click
    page.wait_for_timeout(400)
    plot = page.locator(f"{W} .hd-parcoords .nsewdrag").bounding_box()  # the table got shorter
    top, height = plot["y"], plot["height"]
    x, xo = _axis_x(page, "lr (log)"), _axis_x(page, "optimizer")
    page.mouse.click(xo, top + 0.5 * height)
    draws = _redrawn(page, draws)
    assert _brushed(page) == str(k) and _dimmed(page) == RUNS - k
    assert _rows(page) == k and _curves(page) == k
    page.wait_for_timeout(400)
    plot = page.locator(f"{W} .hd-parcoords .nsewdrag").bounding_box()
    page.mouse.click(x, plot["y"] + 0.1 * plot["height"])
    draws = _redrawn(page, draws)
    assert _brushed(page) == "" and _dimmed(page) == 0
    assert "drag vertically on an axis" in _note(page)
    assert _rows(page) == RUNS and _curves(page) == RUNS
    assert page.locator(f"{W} .hd-table tr.hd-selected").count() == 0  # the clicks selected no run
    screenshot(page, "brushing-cleared.png")

    # a click on a line where it meets an axis without a brush still selects its run: the best run
    # tops the accuracy axis (y = 1 in a y range of [-0.05, 1.05]). Wait first: plotly takes a
    # second click within 300 ms for a double click
    page.wait_for_timeout(400)
    plot = page.locator(f"{W} .hd-parcoords .nsewdrag").bounding_box()
    page.mouse.move(_axis_x(page, "accuracy"), plot["y"] + plot["height"] * 0.05 / 1.1)
    page.mouse.down()
    page.mouse.up()
    _redrawn(page, draws)
    assert page.locator(f"{W} .hd-table tr.hd-selected.hd-best").count() == 1
    assert _brushed(page) == ""
