"""``jupyter nbconvert --to html --execute`` of a notebook with RunDetails, opened offline in Chromium.

nbconvert's executor (nbclient) stores the widget state in the notebook, and nbconvert's HTML export
then prefers the widget view, which draws only with the widget manager from a CDN: offline, the
widget was an empty box. RunDetails ends its displays with the static views when the cell was run by
a headless executor (nbclient asks for no stdin), so the export shows the final table and curves.

The test executes a real notebook (a real experiment: trials in worker processes, the SQLite store)
through the ``jupyter nbconvert`` command line, checks the saved notebook still stores the widget
state (the case the fix is for), and opens the HTML in Chromium with every http(s) request aborted:
the flow ``RunDetails(run).show()`` / ``run.wait_for_completion()`` and a RunDetails displayed after
the end both show a table with one row per run and the final status, and the wait cell's output
says the experiment completed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from browser.jupyter import browser_test_marks, chromium, screenshot, write_notebook

pytestmark = browser_test_marks()

RUNS = 5
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

SUBMIT = f"""
import time
from hdnotebook import (Run, Workspace, Experiment, HyperDriveConfig, RandomParameterSampling,
                        loguniform, choice, RunDetails)

def train(lr, optimizer):
    run = Run.get_context()
    for epoch in range(4):
        run.log("accuracy", 1 - lr * (4 - epoch) - (optimizer == "sgd") / 20)
        time.sleep(0.2)

space = {{"lr": loguniform(-5, -1), "optimizer": choice("sgd", "adam")}}
config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling(space, seed=2),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs={RUNS}, max_concurrent_runs=2)
run = Experiment(Workspace("ws"), "export").submit(config)
"""
SHOW = "RunDetails(run).show()"
WAIT = "run.wait_for_completion()\nprint('waited', run.get_status())"
AFTER = "RunDetails(run)"


def test_executed_notebook_exported_to_html_shows_the_final_table_offline(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "export.ipynb", [SUBMIT, SHOW, WAIT, AFTER])
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
                          "--ExecutePreprocessor.timeout=180", str(path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    html = tmp_path / "export.html"
    assert html.exists(), out.stderr[-2000:]

    # the executor stored the widget state (the case this is about), and no output is a widget view
    text = html.read_text()
    assert '<script type="application/vnd.jupyter.widget-state+json">' in text and '"AnyModel"' in text
    assert f'<script type="{WIDGET_VIEW}">' not in text

    with chromium() as browser:
        context = browser.new_context(offline=True)
        page = context.new_page()
        blocked: list[str] = []

        def block(route) -> None:
            blocked.append(route.request.url)
            route.abort()

        page.route("http*://**", block)  # nothing from a CDN either
        page.goto(html.as_uri())
        page.wait_for_timeout(500)
        views = page.locator(".hdnotebook-rundetails-static")
        assert "waited Completed" in page.locator("body").inner_text()
        assert views.count() == 2  # the live-flow display, updated at the end, and the one shown after
        for k in range(2):
            view = views.nth(k)
            assert view.locator("table tbody tr").count() == RUNS
            text = view.inner_text()
            assert f"{RUNS}/{RUNS} runs finished" in text and text.count("Completed") >= RUNS, text[:600]
            assert view.locator("svg polyline").count() >= 2 * RUNS  # curves and sparklines
        screenshot(page, "rundetails-nbconvert-execute-offline.png")
        context.close()
    print(f"\n[nbconvert --execute] offline: 2 static views x {RUNS} rows; blocked requests: {len(blocked)}",
          file=sys.stderr)
