"""Steering a running experiment (issue 19): pause/resume, limits, enqueue, restart, from this kernel,
from another process and after a resume. Real trials in real processes, a real SQLite store: every
request goes through the store, the driver applies it and answers there."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from hdnotebook import (
    Experiment,
    GridParameterSampling,
    HyperDriveConfig,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Run,
    Workspace,
    choice,
    uniform,
)
from hdnotebook.steering import STEER_REQUESTED, STEERED, AnswerState


def stepping_trial(x, steps=6, pause=0.25):
    run = Run.get_context()
    for i in range(steps):
        run.log("score", float(x) * (i + 1))
        time.sleep(pause)


def long_trial(x):
    stepping_trial(x, steps=16)


def labelled_trial(x, k):
    stepping_trial(x)


def quick_trial(x):
    run = Run.get_context()
    run.log("score", float(x))
    time.sleep(0.2)


def _config(fn, space=None, sampling=RandomParameterSampling, **kw):
    kw.setdefault("policy", NoTerminationPolicy())
    return HyperDriveConfig(
        estimator=fn,
        hyperparameter_sampling=sampling(space or {"x": uniform(0, 1)}, seed=7),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **kw,
    )


def _until(predicate, timeout=60.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def _rows(run):
    run.store.flush()
    return run.store.child_runs(run.id)


def _max_overlap(rows, since=0.0):
    """The most runs that were running at once (from their stored start and end times) after ``since``."""
    marks = []
    for r in rows:
        if r.started is None:
            continue
        end = r.ended or time.time()
        if end <= since:
            continue
        marks += [(max(r.started, since), 1), (end, -1)]
    marks.sort(key=lambda m: (m[0], m[1]))
    best = now = 0
    for _t, step in marks:
        now += step
        best = max(best, now)
    return best


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def test_pause_starts_no_new_runs_and_resume_goes_on(ws):
    run = Experiment(ws, "pause").submit(_config(stepping_trial, max_total_runs=6, max_concurrent_runs=2), n_jobs=2)
    _until(lambda: sum(r.status == "Running" for r in _rows(run)) >= 1)
    answer = run.pause()
    assert answer.state == AnswerState.APPLIED and "paused" in answer.message
    assert run.paused is True
    created_at_pause = len(_rows(run))
    # the running ones finish; none start
    _until(lambda: all(r.status != "Running" for r in _rows(run)), timeout=60)
    time.sleep(1.5)  # several driver iterations: still nothing new
    rows = _rows(run)
    assert len(rows) == created_at_pause
    assert all(r.status == "Completed" for r in rows)
    assert run.get_status() == "Running"
    answer = run.resume_trials()
    assert answer.state == AnswerState.APPLIED and run.paused is False
    run.wait_for_completion()
    rows = _rows(run)
    assert run.get_status() == "Completed"
    assert len(rows) == 6 and all(r.status == "Completed" for r in rows)
    log = run.get_steering_log()
    assert [(e["action"], e["state"]) for e in log] == [("pause", "applied"), ("resume", "applied")]


def test_set_limits_extends_the_budget_and_the_concurrency(ws):
    run = Experiment(ws, "limits").submit(
        _config(stepping_trial, max_total_runs=3, max_concurrent_runs=1), n_jobs=2)
    _until(lambda: any(r.status == "Running" for r in _rows(run)))
    answer = run.set_limits(max_total_runs=6, max_concurrent_runs=2)
    assert answer.state == AnswerState.APPLIED
    assert answer.result["limits"] == {"max_total_runs": 6, "max_concurrent_runs": 2}
    applied_at = time.time()
    run.wait_for_completion()
    rows = _rows(run)
    assert len(rows) == 6 and all(r.status == "Completed" for r in rows)
    assert _max_overlap(rows) == 2  # two at once after the change
    details = run.get_details()["properties"]
    assert details["max_total_runs"] == 6 and details["max_concurrent_runs"] == 2
    assert "6/6 runs" in run.progress_line()
    assert applied_at  # (kept for the overlap reading above)


def test_lowering_concurrency_lets_running_runs_finish_and_starts_fewer(ws):
    run = Experiment(ws, "fewer").submit(
        _config(long_trial, max_total_runs=5, max_concurrent_runs=2), n_jobs=2)
    _until(lambda: sum(r.status == "Running" for r in _rows(run)) == 2)
    before = {r.id for r in _rows(run)}
    run.set_limits(max_concurrent_runs=1)
    run.wait_for_completion()
    rows = _rows(run)
    assert len(rows) == 5 and all(r.status == "Completed" for r in rows)
    later = [r for r in rows if r.id not in before]
    assert len(later) >= 2
    for r in later:  # a run started after the change started alone
        assert not [o for o in rows if o.id != r.id and o.started < r.started < o.ended], r.id


def test_shrinking_max_duration_ends_the_experiment_as_the_limit_does(ws):
    run = Experiment(ws, "duration").submit(_config(stepping_trial, max_total_runs=50, max_concurrent_runs=1))
    _until(lambda: any(r.status == "Running" for r in _rows(run)))
    run.set_limits(max_duration_minutes=0.001)
    run.wait_for_completion()
    details = run.get_details()["properties"]
    assert run.get_status() == "Completed"
    assert details["stop"]["kind"] == "max_duration" and details["max_duration_minutes"] == 0.001
    assert len(_rows(run)) < 50


def test_bad_limits_are_refused_with_the_config_messages(ws):
    run = Experiment(ws, "bad").submit(_config(stepping_trial, max_total_runs=2, max_concurrent_runs=1))
    try:
        for bad in ({"max_concurrent_runs": 0}, {"max_total_runs": 1001}, {"max_duration_minutes": -1},
                    {"max_total_runs": 2.5}):
            with pytest.raises((ValueError, TypeError)) as ours:
                run.set_limits(**bad)
            with pytest.raises((ValueError, TypeError)) as configs:
                _config(stepping_trial, **{"max_total_runs": 2, **bad})
            assert str(ours.value) == str(configs.value)
            assert type(ours.value) is type(configs.value)
        with pytest.raises(TypeError, match="max_runs"):
            run.set_limits(max_runs=3)
    finally:
        run.cancel()
        run.wait_for_completion()
    # nothing bad reached the store
    assert run.get_steering_log() == []


def test_enqueued_configuration_runs_before_new_samples_and_the_grid_skips_it(ws):
    space = {"x": choice(1, 2, 3, 4)}
    config = _config(quick_trial, space, sampling=GridParameterSampling, max_total_runs=4, max_concurrent_runs=1)
    run = Experiment(ws, "enqueue").submit(config)
    answer = run.enqueue(x=4)
    new_id = answer.result["run_id"]
    run.wait_for_completion()
    rows = _rows(run)
    # the grid learnt of the enqueued point: each of the 4 values exactly once, in 4 runs
    assert sorted(r.params["x"] for r in rows) == [1, 2, 3, 4]
    enqueued = next(r for r in rows if r.id == new_id)
    assert enqueued.params == {"x": 4} and enqueued.details.get("enqueued") is True
    assert enqueued.number <= 1  # next, before the samples still to come
    assert run.get_best_run_by_primary_metric().id == new_id


def test_enqueue_checks_the_space_and_the_budget(ws):
    run = Experiment(ws, "enqueue-bad").submit(
        _config(labelled_trial, {"x": uniform(0, 1), "k": choice("a", "b")}, max_total_runs=2, max_concurrent_runs=2),
        n_jobs=2)
    try:
        with pytest.raises(ValueError, match=r"x=2 is not a value of uniform\(0, 1\)"):
            run.enqueue({"x": 2, "k": "a"})
        with pytest.raises(ValueError, match="missing 'k'"):
            run.enqueue(x=0.5)
        with pytest.raises(ValueError, match="not in the search space: 'y'"):
            run.enqueue(x=0.5, k="a", y=1)
        _until(lambda: len(_rows(run)) == 2)
        # the driver refuses: the budget is spent (its reason comes back as the error)
        with pytest.raises(ValueError, match=r"max_total_runs \(2\) runs are already created"):
            run.enqueue(x=0.5, k="a")
        log = run.get_steering_log()
        assert [(e["action"], e["state"]) for e in log] == [("enqueue", "rejected")]
        # raising the budget makes room
        run.set_limits(max_total_runs=3)
        new_id = run.enqueue(x=0.5, k="b").result["run_id"]
    finally:
        run.wait_for_completion()
    rows = _rows(run)
    assert len(rows) == 3 and next(r for r in rows if r.id == new_id).params == {"x": 0.5, "k": "b"}


def test_restart_a_running_and_a_finished_run(ws):
    run = Experiment(ws, "restart").submit(
        _config(stepping_trial, max_total_runs=4, max_concurrent_runs=1), n_jobs=2)
    first = _until(lambda: next((r for r in _rows(run) if r.status == "Running"), None))
    answer = run.restart_child(first.id)
    assert answer.result["stopped"] is True
    again = answer.result["run_id"]
    _until(lambda: run.store.run(first.id).status == "Canceled")
    old = run.store.run(first.id)
    assert old.details["restarted_as"] == again
    assert f"restarted by the user as {again}" in old.details["stop"]["reason"]
    _until(lambda: run.store.run(again).status == "Completed")
    # a finished run restarts too
    answer = run.restart_child(again)
    assert answer.result["stopped"] is False
    run.wait_for_completion()
    rows = {r.id: r for r in _rows(run)}
    third = rows[answer.result["run_id"]]
    assert rows[again].params == old.params == third.params
    assert rows[again].details["restart_of"] == first.id and third.details["restart_of"] == again
    assert third.status == "Completed" and len(rows) == 4
    with pytest.raises(ValueError, match="must be a child run"):
        run.restart_child("HD_nope_1")


def test_steering_from_another_process_reaches_the_driver(ws, tmp_path):
    run = Experiment(ws, "remote").submit(_config(stepping_trial, max_total_runs=6, max_concurrent_runs=1))
    _until(lambda: any(r.status == "Running" for r in _rows(run)))
    script = textwrap.dedent(f"""
        from hdnotebook import Experiment, Workspace
        run = Experiment(Workspace({str(tmp_path / 'ws')!r}), "remote").get_runs()[0]
        paused = run.pause().state
        created = len(run.get_children())  # paused: no more are created; one more is allowed
        print(paused, run.set_limits(max_total_runs=created + 1).state, created, flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    paused, limited, created = out.stdout.split()
    assert (paused, limited) == ("applied", "applied")
    assert run.paused
    # the answers are events in the store, each after its request
    run.store.flush()
    events = [(k, p.get("action")) for _i, _r, k, p, _t in run.store.events([run.id])
              if k in (STEER_REQUESTED, STEERED)]
    assert events == [(STEER_REQUESTED, "pause"), (STEERED, "pause"),
                      (STEER_REQUESTED, "set_limits"), (STEERED, "set_limits")]
    run.resume_trials()
    run.wait_for_completion()
    assert len(_rows(run)) == int(created) + 1


def test_a_resumed_experiment_keeps_its_steered_limits_and_pause(ws):
    run = Experiment(ws, "resumed").submit(_config(stepping_trial, max_total_runs=2, max_concurrent_runs=1))
    _until(lambda: any(r.status == "Running" for r in _rows(run)))
    run.set_limits(max_total_runs=4)
    run.pause()
    run.cancel()
    run.wait_for_completion()
    created = len(_rows(run))
    live = run.resume()
    time.sleep(1.5)
    assert live.paused and live.get_status() == "Running"
    assert sum(r.status == "Running" for r in _rows(live)) == 0  # paused: the reruns wait too
    live.resume_trials()
    live.wait_for_completion()
    counted = [r for r in _rows(live) if not r.details.get("superseded_by")]
    assert len(counted) == 4 and all(r.status in ("Completed", "Canceled") for r in counted)
    assert created <= len(_rows(live))


def test_steering_an_ended_experiment_says_so(ws):
    run = Experiment(ws, "ended").submit(_config(quick_trial, max_total_runs=1))
    run.wait_for_completion()
    with pytest.raises(RuntimeError, match="has ended"):
        run.pause()
