"""One best run and one axis model, computed in Python and served: the driver writes ``best`` and
``best_run`` into the experiment run's details while it runs and at its end, submit stores the
parameters' ``axes``, and the server's summary, the widget's header and
``get_best_run_by_primary_metric`` all agree, with real trial processes and a real store."""

from __future__ import annotations

import dataclasses
import math
import time

from hdnotebook import (
    Experiment,
    GridParameterSampling,
    HyperDriveConfig,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    Run,
    Workspace,
    choice,
)
from hdnotebook._format import format_number
from hdnotebook.server import api
from hdnotebook.run_view import RunDetailsModel


def trial(x, lr):
    run = Run.get_context()
    if x == 4:  # the highest value of all, then a crash: a Failed run never counts as best
        run.log("score", 99.0)
        run.flush()
        raise RuntimeError("diverged")
    if x == 3:
        run.log("score", math.nan)  # NaN counts as worst
        return
    run.log("score", x * 0.1)
    run.log("score", x * 0.2)
    run.log("score", x * 0.15)  # its best is its second value, not its last
    if x == 2:
        time.sleep(4)  # the experiment stays Running past a heartbeat


def _config():
    space = {"x": choice(0, 1, 2, 3, 4), "lr": choice(0.001)}
    return HyperDriveConfig(
        estimator=trial,
        hyperparameter_sampling=GridParameterSampling(space),
        policy=NoTerminationPolicy(),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=5,
        max_concurrent_runs=5,
    )


def test_the_driver_serves_the_best_run_live_and_at_the_end_and_every_view_agrees(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "best").submit(_config())
    store = ws.store
    live = None
    deadline = time.time() + 60
    while time.time() < deadline:
        row = store.run(run.id)
        if row.status != "Running":
            break
        if row.details.get("best_run"):
            live = row.details
            break
        time.sleep(0.2)
    assert live is not None, "no best in the details while the experiment ran"
    run.wait_for_completion()
    parent = store.run(run.id)
    best = run.get_best_run_by_primary_metric()
    statuses = sorted(c.get_status() for c in run.get_children())
    assert statuses == ["Completed"] * 4 + ["Failed"]
    # the run with x=2 wins with 2 * 0.2 (the failed run's 99 and the NaN do not count)
    assert parent.details["best_run"] == best.id
    assert math.isclose(parent.details["best"], 0.4)
    assert math.isclose(live["best"], 0.4) and live["best_run"] == best.id  # x=2 logged before it slept

    summary = api.parent_summary(store, parent)
    assert (summary["best"], summary["best_run"]) == (parent.details["best"], best.id)
    model = RunDetailsModel(store, run.id)
    header = model.snapshot()["header"]
    assert (header["best"], header["best_run"]) == (parent.details["best"], best.id)
    # a store written before the driver kept a best: the server computes it by the same rule
    older = dataclasses.replace(parent, details={k: v for k, v in parent.details.items() if k not in ("best", "best_run")})
    assert api._best(store, older) == (parent.details["best"], best.id)
    assert format_number(summary["best"]) == "0.4"


def test_submit_stores_the_axis_model_every_view_draws_from(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "axes").submit(_config())
    run.wait_for_completion()
    axes = {a["name"]: a for a in ws.store.run(run.id).details["axes"]}
    assert axes["x"]["categorical"] and axes["x"]["values"] == [0, 1, 2, 3, 4]
    assert axes["lr"]["values"] == [0.001]
    served = api.run_tree(ws.store, run.id)["run"]["details"]["axes"]
    assert served == list(axes.values())
    assert RunDetailsModel(ws.store, run.id).snapshot()["meta"]["axes"] == served
