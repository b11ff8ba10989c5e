"""RunDetails in a real JupyterLab 4 and Notebook 7, driven by a headless Chromium (SPEC §7).

Each test starts an isolated server on 127.0.0.1, writes a notebook that submits a small experiment
(trials sleep, so it is still running when first checked) and shows RunDetails, runs all cells from
the menu, and checks the DOM while the experiment runs and after it ends. Screenshots go to
``test-artifacts/``.
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
    WATCH_FIRST_DRAW_JS,
)

pytestmark = browser_test_marks()

REPO = Path(__file__).resolve().parents[1]
RUNS = 6

SETUP = f"""
import time
from hdnotebook import (Run, Workspace, Experiment, HyperDriveConfig, RandomParameterSampling,
                        loguniform, choice, uniform, BanditPolicy, RunDetails)

def train(lr, batch_size, optimizer, dropout):
    run = Run.get_context()
    for epoch in range(8):
        run.log("accuracy", 1 - lr * (8 - epoch) / batch_size - dropout / 10)
        run.log("loss", lr * (8 - epoch))
        time.sleep(0.5)

space = {{"lr": loguniform(-5, -1), "batch_size": choice(16, 32, 64), "optimizer": choice("sgd", "adam"),
         "dropout": uniform(0, 0.5)}}
config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling(space, seed=3),
                          policy=BanditPolicy(slack_factor=0.02, delay_evaluation=4),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs={RUNS}, max_concurrent_runs=2)
run = Experiment(Workspace("ws"), "browser-test").submit(config)
"""

def _rows(page) -> int:
    return page.locator(".hdnotebook-rundetails .hd-table tbody tr").count()


def _traces(page, chart: str) -> int:
    return page.locator(f".hdnotebook-rundetails .{chart} .scatterlayer .trace").count()


def _status(page) -> str:
    return page.locator(".hdnotebook-rundetails").first.get_attribute("data-status") or ""


def _drive(app: str, show_call: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with JupyterServer(tmp_path, app=app) as server:
        write_notebook(server.root / "rundetails.ipynb", [SETUP, show_call])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            try:
                _check(page, app, server)
            except Exception:
                screenshot(page, f"rundetails-{app}-FAILED.png")
                raise
            # Notebook 7.6 itself throws one "reading 'schema'" error on load, with or without
            # hdnotebook: only errors from the widget (anywidget, its blob: module) count here
            ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
            assert not ours, ours
    print(f"[{app}] {time.monotonic() - t0:.1f} s", file=sys.stderr)


def _check(page, app: str, server: JupyterServer) -> None:
    open_notebook(page, server, "rundetails.ipynb")
    run_all_cells(page)

    # while the experiment runs: the widget shows rows and curves, status Running
    page.wait_for_function(
        "() => { const el = document.querySelector('.hdnotebook-rundetails');"
        " return el && el.dataset.status === 'Running' && Number(el.dataset.runs) >= 1"
        " && el.querySelectorAll('.hd-curves .scatterlayer .trace').length >= 1; }",
        timeout=60_000,
    )
    running_rows = _rows(page)
    running_curves = _traces(page, "hd-curves")
    assert running_rows >= 1 and running_curves >= 1
    assert page.locator(".hdnotebook-rundetails .hd-experiment-status").inner_text() == "Running"
    screenshot(page, f"rundetails-{app}-running.png")

    # after it ends: every run in the table, a curve per run, a parallel-coordinates line per run
    page.wait_for_function(
        "() => { const el = document.querySelector('.hdnotebook-rundetails');"
        " return el && ['Completed', 'Canceled', 'Failed'].includes(el.dataset.status); }",
        timeout=90_000,
    )
    page.wait_for_timeout(600)  # the last redraw
    assert _status(page) == "Completed", server.log()
    assert _rows(page) == RUNS
    assert _traces(page, "hd-curves") == RUNS
    # few runs: each run's line has its curve's colour (the table's swatch), so no colour bar
    assert _traces(page, "hd-parcoords") == RUNS
    colours = page.evaluate("""() => { const el = document.querySelector('.hdnotebook-rundetails');
        const of = (sel) => Object.fromEntries(el.querySelector(sel).data.filter(t => t.meta && t.meta !== 'colorbar')
          .map(t => [t.meta, t.line.color]));
        return [of('.hd-curves'), of('.hd-parcoords')]; }""")
    assert colours[0] == colours[1] and len(colours[0]) == RUNS, colours
    assert _traces(page, "hd-time") == 2  # runs + best so far
    header = page.locator(".hdnotebook-rundetails .hd-header").inner_text()
    assert f"{RUNS}/{RUNS} runs finished" in header and "best accuracy" in header
    # the parallel coordinates have an axis per hyperparameter with categorical labels and a log axis
    annotations = page.locator(".hdnotebook-rundetails .hd-parcoords .annotation-text").evaluate_all(
        "els => els.map(e => e.textContent)")
    for label in ("lr (log)", "batch_size", "optimizer", "dropout", "accuracy", "sgd", "adam", "32"):
        assert label in annotations, (label, annotations)

    # select a run in the table: it is highlighted in the table and drawn on top in black
    first = page.locator(".hdnotebook-rundetails .hd-table tbody tr").nth(2)
    run_id = first.get_attribute("data-run")
    first.click()
    page.wait_for_timeout(400)
    assert "hd-selected" in (first.get_attribute("class") or "")
    # sort by a column and filter by status
    page.locator(".hdnotebook-rundetails .hd-table th", has_text="accuracy best").click()
    page.wait_for_timeout(200)
    page.locator(".hdnotebook-rundetails .hd-filter").select_option("Completed")
    page.wait_for_timeout(200)
    shown = page.locator(".hdnotebook-rundetails .hd-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)")
    assert shown and set(shown) == {"Completed"}
    page.locator(".hdnotebook-rundetails .hd-filter").select_option("")
    page.locator(".hdnotebook-rundetails .hd-metric").select_option("loss")
    page.wait_for_timeout(400)
    assert "loss" in page.locator(".hdnotebook-rundetails .hd-curves .gtitle").text_content()
    screenshot(page, f"rundetails-{app}-done.png")
    print(f"\n[{app}] {run_id} selected; rows while running {running_rows}, curves {running_curves}",
          file=sys.stderr)


def test_rundetails_in_jupyterlab_live_and_done(tmp_path):
    _drive("lab", "RunDetails(run)", tmp_path)


def test_rundetails_in_notebook7_live_and_done(tmp_path):
    _drive("notebook", "RunDetails(run).show()", tmp_path)


def test_render_time_1000_runs_x_100_intervals(tmp_path):
    """Prints how long JupyterLab takes to show RunDetails of a 1000-run x 100-interval experiment."""
    fill = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(REPO / 'bench')!r})\n"
        "from widget import fill_store\n"
        "from hdnotebook.store import Store\n"
        "from hdnotebook.run import HyperDriveRun\n"
        "from hdnotebook import RunDetails\n"
        "pid = fill_store('big.sqlite', 1000, 100, status='Completed')\n"
        "run = HyperDriveRun(Store('big.sqlite'), pid)\n"
    )
    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "big.ipynb", [fill, "t0 = time.time(); w = RunDetails(run); w"])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            open_notebook(page, server, "big.ipynb")
            # note when the widget appears and when its first full draw is done
            page.evaluate(WATCH_FIRST_DRAW_JS)
            run_all_cells(page)
            try:
                page.wait_for_function(
                    "() => { const el = document.querySelector('.hdnotebook-rundetails');"
                    " return el && el.dataset.runs === '1000' && Number(el.dataset.draws) >= 1; }",
                    timeout=120_000,
                )
            except Exception:
                screenshot(page, "rundetails-1000-FAILED.png")
                raise
            times = page.evaluate("() => window.__hd")
            el = page.locator(".hdnotebook-rundetails").first
            draw_ms = int(el.get_attribute("data-draw-ms"))
            assert _rows(page) == 200  # the first 200 rows are drawn; "show all" draws the rest
            assert "1000 of 1000 runs shown (the first 200 in the table)" in page.locator(".hd-shown").inner_text()
            # click a row: a redraw with a selection
            t = time.monotonic()
            page.locator(".hdnotebook-rundetails .hd-table tbody tr").nth(5).click()
            page.wait_for_function("() => document.querySelector('.hdnotebook-rundetails').dataset.draws === '2'")
            select_ms = (time.monotonic() - t) * 1000
            # many runs: the selected run is drawn over both the curves and the parallel coordinates
            # (their SVG overlays, which streaming updates redraw without touching the plotly figures)
            selected = page.locator(".hdnotebook-rundetails .hd-table tbody tr").nth(5).get_attribute("data-run")
            for chart in ("hd-curves", "hd-parcoords"):
                assert page.locator(f".hdnotebook-rundetails .{chart} svg.hd-overlay path[data-run='{selected}']").count() == 1, chart
            page.locator(".hdnotebook-rundetails .hd-show-all").click()
            page.wait_for_function("() => document.querySelectorAll('.hdnotebook-rundetails .hd-table tbody tr').length === 1000")
            screenshot(page, "rundetails-lab-1000x100.png")
            print(f"\n[render 1000 runs x 100 intervals] widget shown -> first full draw "
                  f"{times['drawn'] - times['shown']:.0f} ms (snapshot transfer + plotly load + draw); "
                  f"one full draw {draw_ms} ms; select a row and redraw {select_ms:.0f} ms", file=sys.stderr)
