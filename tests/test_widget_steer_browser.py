"""Steering from the widget (issue 19) in a real JupyterLab 4 and Notebook 7 driven by headless Chromium.

Run All on: submit; ``RunDetails(run).show()``; ``run.wait_for_completion()``; a second
``RunDetails(run).show()``. While the wait cell blocks the kernel, every control of the steering
panel is used: its preview says what it will do, the click goes over the server extension's REST
route, the driver applies it (read back from the store by the test) and the widget shows it. Then
the CSV download is compared with ``to_dataframe()``, and the widget opened after the end shows the
steering log. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from browser.jupyter import JupyterServer, browser_test_marks, chromium, open_notebook, run_all_cells, screenshot, wait_until, write_notebook

pytestmark = browser_test_marks()

W = ".hdnotebook-rundetails"
SUBMIT = """
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
                              {"lr": loguniform(-5, -1), "batch_size": choice(16, 32)}, seed=2),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs=4, max_concurrent_runs=1)
run = Experiment(Workspace("ws"), "steer").submit(config)
"""
SHOW = "RunDetails(run).show()"
WAIT = "run.wait_for_completion()\nprint('waited', run.get_status())"


def _store(server: JupyterServer) -> dict:
    path = server.root / "ws" / "hdnotebook.sqlite"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        runs = con.execute("SELECT id, parent_id, status, params, details FROM runs").fetchall()
        events = con.execute("SELECT kind, payload FROM events").fetchall()
    finally:
        con.close()
    parent = next(r for r in runs if r[1] is None)
    return {
        "status": parent[2], "details": json.loads(parent[4]),
        "children": {r[0]: {"status": r[2], "params": json.loads(r[3]), "details": json.loads(r[4])} for r in runs if r[1]},
        "answers": [(json.loads(p).get("action"), k) for k, p in events if k in ("steered", "steer_rejected")],
    }


def _until(predicate, timeout: float, what: str, page=None):
    return wait_until(predicate, timeout, what, page, "rundetails-steer-FAILED.png")


def _preview(page, selector: str) -> str:
    page.locator(f"{W} {selector}").first.hover()
    return page.locator(f"{W} .hd-steer-preview").first.inner_text()


def _click(page, selector: str) -> str:
    """Click a control; the panel's result line once the request is answered."""
    panel = page.locator(f"{W} .hd-steer").first
    page.evaluate(f"() => {{ const p = document.querySelector('{W} .hd-steer'); delete p.dataset.result; }}")
    page.locator(f"{W} {selector}").first.click()
    _until(lambda: panel.get_attribute("data-result"), 20, f"an answer to {selector}", page)
    assert panel.get_attribute("data-via") == "rest"
    return page.locator(f"{W} .hd-steer-result").first.inner_text()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_every_control_steers_the_running_experiment_and_the_csv_matches(tmp_path: Path, app: str) -> None:
    with JupyterServer(tmp_path, app=app) as server:
        write_notebook(server.root / "steer.ipynb", [SUBMIT, SHOW, WAIT, SHOW])
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 2200}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            open_notebook(page, server, "steer.ipynb")
            run_all_cells(page)
            _until(lambda: page.locator(f"{W} .hd-table tbody tr[data-status='Running']").count(), 120,
                   "a running run in the widget", page)

            # pause: the preview says it, the driver applies it, the store and the widget show it
            assert "Pause: no new runs start; the 1 running finish" in _preview(page, ".hd-pause")
            assert "done: paused" in _click(page, ".hd-pause")
            assert _store(server)["details"]["paused"] is True
            _until(lambda: page.locator(f"{W} .hd-steer").first.get_attribute("data-paused") == "1", 10,
                   "the widget shows paused", page)
            assert page.locator(f"{W} .hd-pause").first.inner_text() == "Resume"

            # limits: preview the change, apply it
            page.locator(f"{W} .hd-limit[data-limit='max_total_runs']").first.fill("7")
            assert "max_total_runs 4 \u2192 7" in _preview(page, ".hd-apply-limits")
            page.locator(f"{W} .hd-limit[data-limit='max_concurrent_runs']").first.fill("0")
            assert "Cannot apply: max_concurrent_runs must be from 1 to 100, got 0" in _preview(page, ".hd-apply-limits")
            assert page.locator(f"{W} .hd-apply-limits").first.is_disabled()
            page.locator(f"{W} .hd-limit[data-limit='max_concurrent_runs']").first.fill("1")
            assert "max_total_runs 4 -> 7" in _click(page, ".hd-apply-limits")
            assert _store(server)["details"]["max_total_runs"] == 7

            # enqueue a variation of the selected run: copy its parameters, change one, enqueue
            first = page.locator(f"{W} .hd-table tbody tr[data-run]").first
            first_id = first.get_attribute("data-run")
            first.click()
            page.locator(f"{W} .hd-copy-params").first.click()
            copied = json.loads(page.locator(f"{W} .hd-enqueue-text").first.input_value())
            assert copied == _store(server)["children"][first_id]["params"]
            variation = {**copied, "batch_size": 48}
            page.locator(f"{W} .hd-enqueue-text").first.fill(json.dumps(variation))
            assert "Cannot enqueue: batch_size=48 is not a value of choice(16, 32)" in _preview(page, ".hd-enqueue")
            assert page.locator(f"{W} .hd-enqueue").first.is_disabled()
            variation["batch_size"] = 16 if copied["batch_size"] == 32 else 32
            page.locator(f"{W} .hd-enqueue-text").first.fill(json.dumps(variation))
            assert "next, before new samples" in _preview(page, ".hd-enqueue")
            assert "is queued" in _click(page, ".hd-enqueue")
            enqueued = [c for c in _store(server)["children"].values() if c["details"].get("enqueued")]
            assert [c["params"] for c in enqueued] == [variation]

            # restart the selected run: a new run with its parameters, next (a running one is stopped first)
            was = _store(server)["children"][first_id]["status"]
            preview = _preview(page, ".hd-restart")
            if was == "Running":
                assert "Restart: stop run #0 (Running) and start a new run with its parameters" in preview, preview
            else:
                assert f"Restart: a new run with the parameters of run #0 ({was}), next" in preview, preview
            assert "restarts" in _click(page, ".hd-restart")
            _until(lambda: _store(server)["children"][first_id]["status"] in ("Canceled", "Completed"), 30,
                   "the old run ended", page)
            again = _store(server)["children"][first_id]["details"]["restarted_as"]
            assert _store(server)["children"][again]["params"] == copied
            assert _store(server)["children"][again]["details"]["restart_of"] == first_id

            # resume: the queued ones run, then new samples, until 7
            assert "Resume: new runs start again" in _preview(page, ".hd-pause")
            assert "resumed" in _click(page, ".hd-pause")
            # the insight views draw while it runs, and grow as runs finish
            early = int(_until(lambda: int(page.locator(f"{W} .hd-slice").first.get_attribute("data-points") or 0) or None,
                               120, "a slice plot with a point", page))
            _until(lambda: "waited Completed" in page.locator(".jp-Notebook .jp-Cell").nth(2).inner_text(), 180,
                   "the experiment completed", page)
            final = _store(server)
            assert len(final["children"]) == 7 and final["status"] == "Completed"
            assert final["children"][again]["status"] == "Completed"
            assert final["answers"] == [("pause", "steered"), ("set_limits", "steered"), ("enqueue", "steered"),
                                        ("restart", "steered"), ("resume", "steered")]

            # the CSV download: the runs as to_dataframe() has them
            _until(lambda: page.locator(f"{W}[data-status='Completed']").count() >= 1, 15, "the widget shows Completed", page)
            with page.expect_download() as info:
                page.locator(f"{W} .hd-csv").first.click()
            rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
            from hdnotebook import Experiment, Workspace

            df = Experiment(Workspace(str(server.root / "ws")), "steer").get_runs()[0].to_dataframe()
            assert [r["run_id"] for r in rows] == list(df["run_id"])
            assert [r["status"] for r in rows] == list(df["status"])
            for r, (_, want) in zip(rows, df.iterrows()):
                assert float(r["best_value"]) == float(want["best_value"])
                assert int(r["intervals"]) == int(want["intervals"])
                assert r["params_batch_size"] == str(want["params_batch_size"])

            # the insight views agree with Python: importance, slices on the space's axes, top two, timeline
            run_py = Experiment(Workspace(str(server.root / "ws")), "steer").get_runs()[0]
            want = run_py.get_param_importances()
            live = page.locator(W).first
            _until(lambda: live.locator(".hd-imp-row").count() == len(want), 30, "the importance bars", page)
            shown = {r.get_attribute("data-param"): float(r.get_attribute("data-value")) for r in live.locator(".hd-imp-row").all()}
            assert shown == want
            finished = sum(1 for _, r in df.iterrows() if r["status"] in ("Completed", "Canceled") and r["best_value"] == r["best_value"])
            slices = live.locator(".hd-slice")
            assert slices.count() == 2 and int(slices.first.get_attribute("data-points")) == finished > early
            types = page.evaluate(f"() => [...document.querySelector('{W}').querySelectorAll('.hd-slice')].map(d => [d.dataset.param, d._fullLayout.xaxis.type])")
            assert dict(types) == {"lr": "log", "batch_size": "category"}
            assert live.locator(".hd-top2").get_attribute("data-params") == ",".join(list(want)[:2])
            timeline = live.locator(".hd-timeline")
            assert int(timeline.get_attribute("data-runs")) == 7 and 1 <= int(timeline.get_attribute("data-slots")) <= 2

            # the widget opened after the end shows what was done
            reopened = page.locator(W).nth(1)
            _until(lambda: reopened.locator(".hd-steer-log li").count() == 5, 30, "the reopened widget's log", page)
            log = reopened.locator(".hd-steer-log").inner_text()
            for action in ("pause", "set_limits", "enqueue", "restart", "resume"):
                assert f"{action} \u2014 applied" in log, log
            assert reopened.locator(".hd-pause").is_disabled()
            # an expanded row shows the run in full; "Enqueue a variation" puts its parameters in the box
            row = live.locator(".hd-table tbody tr[data-run]").nth(1)
            row_id = row.get_attribute("data-run")
            row.locator(".hd-expand").click()
            detail = live.locator(f".hd-run-detail[data-run='{row_id}'][data-loaded='1']")
            _until(lambda: detail.count() == 1, 20, "the run's detail", page)
            py = run_py.get_children()[[c.id for c in run_py.get_children()].index(row_id)].get_detail()
            metrics = detail.locator(".hd-rd-metrics tbody tr").all_inner_texts()
            assert any(m.startswith("accuracy") and f"\t{len(py['metrics']['accuracy'])}\t" in m for m in metrics), metrics
            assert detail.locator(".hd-rd-dict").inner_text() == repr(py["params"]).replace("'", "'")
            detail.locator(".hd-rd-vary").click()
            assert json.loads(live.locator(".hd-enqueue-text").input_value()) == py["params"]
            screenshot(page, f"rundetails-steer-{app}-done.png")
            ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
            assert not ours, ours
