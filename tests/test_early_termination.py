"""Early termination live in the engine: the right runs stop, workers survive, replay agrees."""

from __future__ import annotations

import math
import os
import time

import pytest

from hdnotebook import (
    ASHAPolicy,
    BanditPolicy,
    Experiment,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    Run,
    ScriptRunConfig,
    TruncationSelectionPolicy,
    Workspace,
    choice,
)

CURVES = {"good_a": 0.9, "good_b": 0.9, "good_c": 0.92, "bad_a": 0.3, "bad_b": 0.2}
INTERVALS = 8


def curve_trial(curve, goal):
    run = Run.get_context()
    run.log("worker", os.getppid())
    level = CURVES[curve]
    for i in range(INTERVALS):
        value = level + 0.001 * i
        run.log("acc", value if goal == "maximize" else 1 - value)
        # the bad runs are slower per interval, so that running side by side they are judged after
        # the good ones reached the same interval (a run ahead of every other has nothing to be
        # compared with: the population leaves out runs that have not got there yet)
        time.sleep(0.03 if curve.startswith("good") else 0.06)


POLICIES = {
    "bandit": lambda: BanditPolicy(slack_amount=0.1),
    "median": lambda: MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2),
    "truncation": lambda: TruncationSelectionPolicy(truncation_percentage=40, delay_evaluation=2),
    "asha": lambda: ASHAPolicy(reduction_factor=2, min_resource=2, max_resource=INTERVALS),
}


def _run(tmp_path, policy, goal, concurrency, estimator=curve_trial, space=None, **limits):
    space = space or {"curve": choice(*CURVES), "goal": choice(goal)}
    config = HyperDriveConfig(
        estimator=estimator,
        hyperparameter_sampling=GridParameterSampling(space),
        policy=policy,
        primary_metric_name="acc",
        primary_metric_goal=goal,
        max_concurrent_runs=concurrency,
        **limits,
    )
    run = Experiment(Workspace(tmp_path / "ws"), "et").submit(config)
    run.wait_for_completion()
    return run


def _stops(run):
    return {c.id: c.get_details()["properties"]["stop"]["interval"] for c in run.get_children()
            if c.get_status() == "Canceled"}


@pytest.mark.parametrize("concurrency", [1, 2, 4])
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_stops_the_bad_runs_and_keeps_the_good_ones(tmp_path, name, goal, concurrency):
    policy = POLICIES[name]()
    run = _run(tmp_path, policy, goal, concurrency)
    status = {c.get_details()["parameters"]["curve"]: c for c in run.get_children()}
    for good in ("good_a", "good_b", "good_c"):
        if name == "asha" and good != "good_c":
            continue  # ASHA keeps the top 1/eta at a rung: a 0.9 beside the 0.92 may go, by design
        assert status[good].get_status() == "Completed", good
    for bad in ("bad_a", "bad_b"):
        details = status[bad].get_details()
        assert details["status"] == "Canceled"
        stop = details["properties"]["stop"]
        assert stop["policy"] == type(policy).__name__
        assert stop["reason"] == details["stopReason"]
        # the run stopped exactly at the interval the policy judged: nothing logged after it
        assert len(run.primary_values()[status[bad].id]) == stop["interval"] < INTERVALS

    # replay of the same policy over the stored curves agrees with what happened live
    report = run.replay(POLICIES[name]())
    assert {rid: d.interval for rid, d in report.stopped.items()} == _stops(run)


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_issue_17_truncation_example_live_stops_only_the_bad_runs(tmp_path, concurrency):
    # q = 1.0, 0.2, 0.95, 0.1, 0.9, 0.97 logging q(1 - e^(-t/3)) for 12 intervals under
    # TruncationSelectionPolicy(30, 1, 3): before the population rule, 5 of 6 were cancelled
    run = _run(
        tmp_path, TruncationSelectionPolicy(30, 1, 3), "maximize", concurrency,
        estimator=q_curve_trial, space={"q": choice(1.0, 0.2, 0.95, 0.1, 0.9, 0.97)},
    )
    by_q = {c.get_details()["parameters"]["q"]: c for c in run.get_children()}
    stopped = {q for q, c in by_q.items() if c.get_status() == "Canceled"}
    assert stopped <= {0.2, 0.1}, stopped
    if concurrency == 1:
        assert stopped == {0.1}  # 4th of 6 runs: the lowest 30 % of 4 is one run, and 0.1 is it
    assert {rid: d.interval for rid, d in run.replay(TruncationSelectionPolicy(30, 1, 3)).stopped.items()} == _stops(run)


def q_curve_trial(q):
    run = Run.get_context()
    for t in range(1, 13):
        run.log("acc", q * (1 - math.exp(-t / 3)))
        time.sleep(0.02)


def test_a_run_stopped_at_its_last_interval_is_not_counted_as_stopped_early(tmp_path):
    from hdnotebook.run_view import RunDetailsModel

    # judged only at interval 8, the last: the bad runs are cancelled there but lost nothing
    run = _run(tmp_path, BanditPolicy(slack_amount=0.1, delay_evaluation=INTERVALS), "maximize", 1)
    assert len(_stops(run)) == 2
    head = RunDetailsModel(run._store, run.id).header()
    assert (head["stopped_early"], head["saved_intervals"], head["saved_fraction"]) == (0, 0, 0.0)
    report = run.replay(BanditPolicy(slack_amount=0.1, delay_evaluation=INTERVALS))
    assert len(report.stopped) == 2 and report.stopped_early == () and report.saved_fraction == 0.0
    # one interval earlier, they are stopped early in both, and both count the same intervals
    run = _run(tmp_path / "early", BanditPolicy(slack_amount=0.1, delay_evaluation=INTERVALS - 1), "maximize", 1)
    head = RunDetailsModel(run._store, run.id).header()
    report = run.replay(BanditPolicy(slack_amount=0.1, delay_evaluation=INTERVALS - 1))
    assert head["stopped_early"] == len(report.stopped_early) == 2
    assert head["saved_intervals"] == report.intervals_total - report.intervals_used == 2


def test_default_policy_is_median_stopping_1_5_and_records_it(tmp_path):
    config = HyperDriveConfig(
        estimator=curve_trial,
        hyperparameter_sampling=GridParameterSampling({"curve": choice(*CURVES), "goal": choice("maximize")}),
        primary_metric_name="acc", primary_metric_goal="maximize", max_concurrent_runs=1,
    )
    run = Experiment(Workspace(tmp_path / "ws"), "default").submit(config)
    run.wait_for_completion()
    assert run.get_details()["properties"]["policy"] == "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)"
    stopped = [c for c in run.get_children() if c.get_status() == "Canceled"]
    assert {c.get_details()["parameters"]["curve"] for c in stopped} == {"bad_a", "bad_b"}  # 3+ others each
    assert all(c.get_details()["properties"]["stop"]["interval"] == 5 for c in stopped)


def test_a_stopped_function_trial_leaves_its_worker_alive_and_reused(tmp_path):
    run = _run(tmp_path, BanditPolicy(slack_amount=0.1), "maximize", 1)
    workers = {c.get_details()["parameters"]["curve"]: c.get_metrics()["worker"] for c in run.get_children()}
    assert os.getpid() not in workers.values()  # trials ran in joblib workers, not in here
    # the pool's two workers ran all four trials; a crashed worker would have been replaced by a
    # new process (a third pid), and every worker is still alive after its trials were stopped
    assert len(set(workers.values())) <= 2
    for pid in set(workers.values()):
        os.kill(int(pid), 0)


def test_no_termination_policy_lets_every_run_complete(tmp_path):
    run = _run(tmp_path, NoTerminationPolicy(), "maximize", 4)
    assert [c.get_status() for c in run.get_children()] == ["Completed"] * len(CURVES)


SCRIPT = '''
import argparse, os, time
from hdnotebook import Run
p = argparse.ArgumentParser(); p.add_argument("--level", type=float); a = p.parse_args()
run = Run.get_context()
run.log("pid", os.getpid())
try:
    for i in range(40):
        run.log("acc", a.level)
        time.sleep(0.05)
except BaseException:
    # a script that ignores the stop and keeps running must still be ended by the engine
    while True:
        time.sleep(0.05)
'''


def test_a_stopped_script_is_terminated_and_its_process_is_gone(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(SCRIPT)
    run = _run(
        tmp_path, BanditPolicy(slack_amount=0.1, delay_evaluation=3), "maximize", 1,
        estimator=ScriptRunConfig(str(src), "train.py"), space={"level": choice(0.9, 0.2)},
    )
    by_level = {c.get_details()["parameters"]["level"]: c for c in run.get_children()}
    assert by_level[0.9].get_status() == "Completed"
    stopped = by_level[0.2]
    assert stopped.get_status() == "Canceled"
    assert stopped.get_details()["properties"]["stop"]["interval"] == 3
    pid = int(stopped.get_metrics()["pid"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def timed_trial(seconds, log):
    run = Run.get_context()
    end = time.time() + seconds
    while time.time() < end:
        if log:
            run.log("acc", 0.5)
        time.sleep(0.05)


@pytest.mark.parametrize("log", [True, False], ids=["logging", "silent"])
def test_a_trial_that_reaches_max_run_duration_seconds_is_canceled_and_keeps_its_values(tmp_path, log):
    started = time.time()
    run = _run(
        tmp_path, NoTerminationPolicy(), "maximize", 2, estimator=timed_trial,
        space={"seconds": choice(0.3, 60.0), "log": choice(log)}, max_run_duration_seconds=1.5,
    )
    assert time.time() - started < 30  # not the 60 s the long trial asked for
    by_seconds = {c.get_details()["parameters"]["seconds"]: c for c in run.get_children()}
    assert by_seconds[0.3].get_status() == "Completed"
    details = by_seconds[60.0].get_details()
    assert details["status"] == "Canceled"
    assert details["stopReason"] == "max_run_duration_seconds (1.5 s) reached"
    assert (details["properties"]["stop_kind"], details["properties"]["outcome"]) == ("time_limit", "timed_out")
    assert run.get_status() == "Completed"  # one trial's limit does not end the experiment
    kept = run.primary_values()[by_seconds[60.0].id]
    if log:  # what it logged before the limit is kept: ~1.5 s at one value per 0.05 s
        assert 5 <= len(kept) <= 60, len(kept)


def test_a_script_config_brings_its_own_time_limit_and_the_smaller_wins(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(SCRIPT)
    config = HyperDriveConfig(
        estimator=ScriptRunConfig(str(src), "train.py", max_run_duration_seconds=1.0),
        hyperparameter_sampling=GridParameterSampling({"level": choice(0.9)}),
        policy=NoTerminationPolicy(), primary_metric_name="acc", primary_metric_goal="maximize",
        max_run_duration_seconds=100,
    )
    assert config.trial_time_limit == 1.0
    run = Experiment(Workspace(tmp_path / "ws"), "limit").submit(config)
    run.wait_for_completion()
    (child,) = run.get_children()
    assert child.get_status() == "Canceled"
    assert child.get_details()["stopReason"] == "max_run_duration_seconds (1 s) reached"
    assert 5 <= len(run.primary_values()[child.id]) < 40  # 40 values would take 2 s
    with pytest.raises(ProcessLookupError):  # the script that ignored the stop was ended
        os.kill(int(child.get_metrics()["pid"]), 0)


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1.0, ValueError), (math.inf, ValueError), ("60", TypeError), (True, TypeError)]
)
def test_max_run_duration_seconds_rejects_bad_values_naming_the_parameter(value, error):
    with pytest.raises(error, match=r"max_run_duration_seconds must be a .*number of seconds > 0.*got"):
        HyperDriveConfig(
            estimator=timed_trial, hyperparameter_sampling=GridParameterSampling({"seconds": choice(1)}),
            primary_metric_name="acc", primary_metric_goal="maximize", max_run_duration_seconds=value,
        )
    with pytest.raises(error, match=r"ScriptRunConfig: max_run_duration_seconds must be"):
        ScriptRunConfig(".", "train.py", max_run_duration_seconds=value)
