"""The documented flow, live, in a real JupyterLab 4 and Notebook 7 driven by headless Chromium.

Three cells, run with Run All as a user would: submit an experiment; ``RunDetails(run).show()``;
``run.wait_for_completion()``. While the third cell blocks the kernel, the widget must show rows and
learning curves when the experiment is between 25 % and 75 % done (the test reads the store itself
to know how far it is), and its Cancel buttons must reach the driver: a selected run is canceled
while the experiment goes on, then the whole experiment is canceled and the wait cell returns.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

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
    wait_until,
    write_notebook,
)

pytestmark = browser_test_marks()

RUNS = 8
W = ".hdnotebook-rundetails"

SUBMIT = f"""
import time
from hdnotebook import (Run, Workspace, Experiment, HyperDriveConfig, RandomParameterSampling,
                        loguniform, choice, NoTerminationPolicy, RunDetails)

def train(lr, batch_size):
    run = Run.get_context()
    for epoch in range(8):
        run.log("accuracy", 1 - lr * (8 - epoch) / batch_size)
        time.sleep(0.6)

config = HyperDriveConfig(estimator=train, policy=NoTerminationPolicy(),
                          hyperparameter_sampling=RandomParameterSampling(
                              {{"lr": loguniform(-5, -1), "batch_size": choice(16, 32)}}, seed=2),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs={RUNS}, max_concurrent_runs=2)
run = Experiment(Workspace("ws"), "live").submit(config)
"""
SHOW = "RunDetails(run).show()"
WAIT = "run.wait_for_completion()\nprint('waited', run.get_status())"


def _store(server: JupyterServer) -> dict:
    """The experiment as the store has it now: parent status and each child's status."""
    path = server.root / "ws" / "hdnotebook.sqlite"
    if not path.exists():
        return {"parent": None, "children": {}}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT id, parent_id, status FROM runs").fetchall()
    except sqlite3.OperationalError:
        return {"parent": None, "children": {}}
    finally:
        con.close()
    parent = next((s for i, p, s in rows if p is None), None)
    return {"parent": parent, "children": {i: s for i, p, s in rows if p is not None}}


def _finished(snap: dict) -> int:
    return sum(s in ("Completed", "Canceled", "Failed") for s in snap["children"].values())


def _wait_cell(page):
    """The wait cell, scrolled into view: JupyterLab 4 and Notebook 7 render only the cells near the
    viewport, and the widget above it grows as runs finish (its insight panel)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(2)
    cell.scroll_into_view_if_needed()
    return cell


def _wait_cell_busy(page) -> bool:
    return "*" in _wait_cell(page).locator(".jp-InputPrompt").inner_text()


def _dom(page) -> dict:
    return page.evaluate(f"""() => {{
        const el = document.querySelector('{W}');
        if (!el) return {{rows: 0, curves: 0, status: ''}};
        return {{rows: el.querySelectorAll('.hd-table tbody tr[data-run]').length,
                 curves: el.querySelectorAll('.hd-curves .scatterlayer .trace').length,
                 status: el.dataset.status || ''}}; }}""")


def _until(predicate, timeout: float, what: str, page=None, app: str = ""):
    return wait_until(predicate, timeout, what, page, f"rundetails-live-{app}-FAILED.png")


def _drive(app: str, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with JupyterServer(tmp_path, app=app) as server:
        write_notebook(server.root / "live.ipynb", [SUBMIT, SHOW, WAIT])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            open_notebook(page, server, "live.ipynb")
            run_all_cells(page)

            # 1. live while the wait cell blocks: at 25..75 % done, rows and curves are on screen
            seen: list[tuple[float, dict]] = []

            def live() -> bool:
                snap = _store(server)
                done = _finished(snap) / RUNS
                dom = _dom(page)
                busy = _wait_cell_busy(page)
                seen.append((done, dom))
                return (0.25 <= done <= 0.75 and busy and dom["status"] == "Running" and dom["rows"] >= _finished(snap)
                        and dom["curves"] >= 1)

            _until(live, 120, f"rows and curves at 25..75 % done (seen: {seen[-5:]})", page, app)
            screenshot(page, f"rundetails-live-{app}-running.png")

            # 2. cancel a running run from the widget while the wait cell still blocks
            # the running run with the fewest intervals (the one furthest from its end)
            target = _until(lambda: page.evaluate(f"""() => {{
                const rows = [...document.querySelectorAll("{W} .hd-table tbody tr[data-status='Running']")];
                rows.sort((a, b) => Number(a.cells[4].textContent) - Number(b.cells[4].textContent));
                return rows.length && Number(rows[0].cells[4].textContent) <= 4 ? rows[0].dataset.run : null; }}"""),
                30, "a run early in its curve", page, app)
            page.locator(f"{W} tr[data-run='{target}']").click()
            page.locator(f"{W} .hd-cancel-run:not([disabled])").click(timeout=10_000)
            _until(lambda: _store(server)["children"].get(target) == "Canceled", 20,
                   f"run {target} canceled by the widget", page, app)
            assert _store(server)["parent"] == "Running" and _wait_cell_busy(page)
            assert page.locator(W).first.get_attribute("data-cancel") == "rest"
            # the widget shows it too, while the kernel is still busy
            _until(lambda: page.locator(f"{W} tr[data-run='{target}']").get_attribute("data-status") == "Canceled",
                   10, "the canceled run shown as Canceled", page, app)

            # 3. cancel the experiment: the driver stops it and the wait cell returns
            page.locator(f"{W} .hd-cancel-exp:not([disabled])").click()
            _until(lambda: _store(server)["parent"] == "Canceled", 30, "experiment canceled", page, app)
            _until(lambda: not _wait_cell_busy(page), 30, "the wait cell returned", page, app)
            _until(lambda: _dom(page)["status"] == "Canceled", 10, "the widget shows Canceled", page, app)
            final = _store(server)["children"]
            statuses = list(final.values())
            assert final[target] == "Canceled"
            assert statuses.count("Completed") < RUNS and "Running" not in statuses, final
            assert "waited Canceled" in _wait_cell(page).inner_text()
            screenshot(page, f"rundetails-live-{app}-canceled.png")
            ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
            assert not ours, ours
    print(f"\n[{app}] live flow {time.monotonic() - t0:.1f} s; first 25..75 % sample "
          f"{next((s for s in seen if 0.25 <= s[0] <= 0.75), None)}", file=sys.stderr)


def test_live_flow_show_then_wait_in_jupyterlab(tmp_path):
    _drive("lab", tmp_path)


def test_live_flow_show_then_wait_in_notebook7(tmp_path):
    _drive("notebook", tmp_path)


SHARE_RUNS = 6
SHARE_SUBMIT = SUBMIT.replace(f"max_total_runs={RUNS}", f"max_total_runs={SHARE_RUNS}").replace("time.sleep(0.6)", "time.sleep(0.2)")


def test_saved_notebook_exported_to_html_shows_the_final_state_offline(tmp_path):
    """Run the flow in JupyterLab, save, ``jupyter nbconvert --to html``, open the HTML in a
    Chromium without network: the final table is there (the display's static fallback was
    replaced with the final state when the experiment ended, while the live view stayed)."""
    import json
    import subprocess

    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "share.ipynb", [SHARE_SUBMIT, SHOW, WAIT])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            open_notebook(page, server, "share.ipynb")
            run_all_cells(page)
            _until(lambda: "waited Completed" in _wait_cell(page).inner_text(), 120,
                   "the experiment completed", page, "share")
            _until(lambda: _dom(page)["status"] == "Completed" and _dom(page)["rows"] == SHARE_RUNS, 15,
                   "the live view shows the final state", page, "share")
            page.wait_for_timeout(500)
            assert page.locator(W).count() == 1  # the live widget is still there after the update
            page.locator(".jp-Notebook .jp-Cell").nth(2).click()
            page.keyboard.press("Escape")
            page.keyboard.press("Control+s")
            path = server.root / "share.ipynb"
            _until(lambda: any(o.get("output_type") == "display_data"
                               for o in json.loads(path.read_text())["cells"][1]["outputs"]), 20, "the notebook saved")

            saved = json.loads(path.read_text())["cells"][1]["outputs"][0]["data"]
            assert "application/vnd.jupyter.widget-view+json" in saved  # still a live widget when reopened
            assert f"{SHARE_RUNS}/{SHARE_RUNS} runs finished" in "".join(saved["text/plain"]), saved["text/plain"]

            out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            html = server.root / "share.html"
            context = browser.new_context(offline=True)
            offline = context.new_page()
            offline.route("http*://**", lambda route: route.abort())  # nothing from a CDN either
            offline.goto(html.as_uri())
            table = offline.locator(".hdnotebook-rundetails-static table tbody tr")
            assert table.count() == SHARE_RUNS
            text = offline.locator(".hdnotebook-rundetails-static").inner_text()
            assert "Completed" in text and f"{SHARE_RUNS}/{SHARE_RUNS} runs finished" in text, text[:500]
            assert offline.locator(".hdnotebook-rundetails-static svg polyline").count() >= 2 * SHARE_RUNS  # curves + sparklines
            screenshot(offline, "rundetails-nbconvert-offline.png")
            context.close()
