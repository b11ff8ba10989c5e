"""The insight panel's contour and timeline, and the per-run output tail, in a real JupyterLab 4
driven by headless Chromium (issues 19 and 21).

Run All on a notebook that runs a function-trial experiment (each trial prints a known line to
stdout and one to stderr; 8 trials, 2 at a time, the last one bad enough for the Bandit policy to
stop it) with ``RunDetails(run).show()``, then a
script-trial experiment with its own widget. Checked against Python's numbers, read from the same
store by the test: the contour trace plotly drew has the z-range of ``get_param_contour()`` (log x
axis for the ``loguniform`` parameter), the timeline draws each run on the lane the engine recorded
for it (the run the policy stopped marked), and an expanded row shows the output tail of a function trial and of a script trial.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser.jupyter import JupyterServer, browser_test_marks, chromium, open_notebook, run_all_cells, screenshot, wait_until, write_notebook

pytestmark = browser_test_marks()

W = ".hdnotebook-rundetails"
FUNCTIONS = """
import math, sys, time, pathlib
from hdnotebook import (Run, Workspace, Experiment, HyperDriveConfig, RandomParameterSampling, ScriptRunConfig,
                        loguniform, uniform, BanditPolicy, NoTerminationPolicy, RunDetails)

def train(lr, dropout):
    run = Run.get_context()
    print(f"hello from the function trial lr={lr:.6g}", flush=True)
    print("and a line on its stderr", file=sys.stderr, flush=True)
    for epoch in range(5):
        run.log("accuracy", 1 - 0.05 * (math.log(lr) + 4) ** 2 - 0.5 * dropout)
        time.sleep(0.2 + dropout / 2)

# seed 4 draws accuracies 0.52, 0.48 (the first two: nothing better yet), 0.80, 0.89, 0.84, 0.81, 0.91
# and 0.51: only the last is below the best / 1.2 once better runs have reported
config = HyperDriveConfig(estimator=train, policy=BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=1),
                          hyperparameter_sampling=RandomParameterSampling(
                              {"lr": loguniform(-7, -1), "dropout": uniform(0, 0.5)}, seed=4),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs=8, max_concurrent_runs=2)
run = Experiment(Workspace("ws"), "insight").submit(config)
"""
SHOW = "RunDetails(run).show()"
WAIT = "run.wait_for_completion()\nprint('waited', run.get_status())"
SCRIPTS = '''
pathlib.Path("src").mkdir(exist_ok=True)
pathlib.Path("src/train.py").write_text("""
import argparse, sys
from hdnotebook import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
args = parser.parse_args()
run = Run.get_context()
for epoch in range(3):
    print(f"script epoch {epoch} x={args.x:.6g}", flush=True)
    run.log("score", args.x * (epoch + 1))
print("script done", file=sys.stderr, flush=True)
""")
srun = Experiment(Workspace("ws"), "scripts").submit(HyperDriveConfig(
    estimator=ScriptRunConfig("src", "train.py"), policy=NoTerminationPolicy(),
    hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=1),
    primary_metric_name="score", primary_metric_goal="maximize", max_total_runs=2, max_concurrent_runs=2))
srun.wait_for_completion()
RunDetails(srun).show()
'''


def _until(predicate, timeout: float, what: str, page=None):
    return wait_until(predicate, timeout, what, page, "rundetails-insight-FAILED.png")


def _expand(widget, run_id: str, page):
    """Expand ``run_id``'s row; its loaded detail panel."""
    widget.locator(f".hd-table tbody tr[data-run='{run_id}'] .hd-expand").click()
    detail = widget.locator(f".hd-run-detail[data-run='{run_id}'][data-loaded='1']")
    _until(lambda: detail.count() == 1, 30, f"the detail of {run_id}", page)
    return detail


def test_contour_timeline_lanes_and_output_tails_agree_with_python(tmp_path: Path) -> None:
    from hdnotebook import Experiment, Workspace

    with JupyterServer(tmp_path, app="lab") as server:
        write_notebook(server.root / "insight.ipynb", [FUNCTIONS, SHOW, WAIT, SCRIPTS])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 2400})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            open_notebook(page, server, "insight.ipynb")
            run_all_cells(page)
            cells = page.locator(".jp-Notebook .jp-Cell")
            _until(lambda: "waited Completed" in cells.nth(2).inner_text(), 240, "the function experiment completed", page)
            ws = Workspace(str(server.root / "ws"))
            run = Experiment(ws, "insight").get_runs()[0]
            children = run.get_children()
            statuses = [c.get_status() for c in children]
            assert statuses == ["Completed"] * 7 + ["Canceled"], statuses
            stopped = children[7]
            assert "bandit" in str(stopped.get_details()["properties"]["stop"]).lower()
            widget = page.locator(W).first

            # the contour: the grid Python computes, drawn as a plotly contour trace, lr on a log axis
            want = run.get_param_contour()
            top2 = widget.locator(".hd-top2")
            final = "d => d.dataset.kind === 'contour' && Number(d.dataset.zmax)"  # one read: the view may re-render
            _until(lambda: top2.evaluate(final) == want["zmax"], 60, "the final contour", page)
            drawn = top2.evaluate("""d => {
                const c = d._fullData.find(t => t.type === "contour");
                const pts = d._fullData.find(t => t.type === "scatter");
                return {zmin: c.zmin, zmax: c.zmax, rows: c.z.length, cols: c.z[0].length, points: pts.x.length,
                        xtype: d._fullLayout.xaxis.type, ytype: d._fullLayout.yaxis.type,
                        xaxis: d._fullLayout.xaxis.title.text, yaxis: d._fullLayout.yaxis.title.text,
                        paths: d.querySelectorAll(".contourlayer path").length};
            }""")
            assert drawn["zmin"] == pytest.approx(want["zmin"], rel=1e-12)
            assert drawn["zmax"] == pytest.approx(want["zmax"], rel=1e-12)
            assert (drawn["rows"], drawn["cols"]) == (len(want["y"]["values"]), len(want["x"]["values"]))
            assert drawn["points"] == len(want["trials"]) == 7  # the Completed runs
            assert [drawn["xaxis"], drawn["yaxis"]] == [want["x"]["name"], want["y"]["name"]]
            types = {drawn["xaxis"]: drawn["xtype"], drawn["yaxis"]: drawn["ytype"]}
            assert types == {"lr": "log", "dropout": "linear"}
            assert drawn["paths"] > 0  # the contour's fills and lines are in the SVG

            # the timeline: each run on the lane the engine recorded for it
            timeline = widget.locator(".hd-timeline")
            _until(lambda: timeline.get_attribute("data-runs") == "8", 30, "the timeline's 8 runs", page)
            assert timeline.get_attribute("data-lanes") == "engine"
            assert timeline.get_attribute("data-slots") == "2"
            # (the bars are merged into a trace per status: each point carries its run id)
            lanes_drawn = dict(timeline.evaluate(
                "d => d.data.filter(t => String(t.meta || '').startsWith('timeline:') && t.mode !== 'markers')"
                ".flatMap(t => t.customdata.map((id, i) => [id, t.y[i]]).filter(([id]) => id))"))
            lanes = {c.id: run._store.run(c.id).details["lane"] for c in children}
            assert lanes_drawn == lanes and set(lanes.values()) == {0, 1}
            crosses = timeline.evaluate(
                "d => d.data.filter(t => t.marker && t.marker.symbol === 'x').flatMap(t => t.customdata.map((id, i) => [id, t.y[i]]))")
            assert crosses == [[stopped.id, lanes[stopped.id]]]  # the run the policy stopped, on its lane

            # a function trial's output tail: what it printed to stdout and stderr
            child = children[2]
            detail = _expand(widget, child.id, page)
            output = detail.locator(".hd-rd-output").inner_text()
            assert f"hello from the function trial lr={child.get_parameters()['lr']:.6g}" in output, output
            assert "and a line on its stderr" in output
            assert output.strip() == child.get_details()["properties"]["output"].strip()

            # a script trial's output tail, in the second widget
            _until(lambda: page.locator(W).count() == 2, 180, "the script experiment's widget", page)
            swidget = page.locator(W).nth(1)
            srun = Experiment(ws, "scripts").get_runs()[0]
            schild = srun.get_children()[0]
            sdetail = _expand(swidget, schild.id, page)
            soutput = sdetail.locator(".hd-rd-output").inner_text()
            x = schild.get_parameters()["x"]
            assert f"script epoch 2 x={x:.6g}" in soutput and "script done" in soutput, soutput
            screenshot(page, "rundetails-insight-lab.png")
            ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
            assert not ours, ours
