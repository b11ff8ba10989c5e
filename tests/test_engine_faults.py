"""Driver-side faults with real trial processes: every error ends the experiment visibly, each
trial ends exactly once, a retry is a run of its own, and only one kernel can resume a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from hdnotebook import (
    BanditPolicy,
    Experiment,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Run,
    Workspace,
    uniform,
)
from hdnotebook.engine.feeder import Lane
from hdnotebook.engine.scheduler import ExperimentDriver
from hdnotebook.engine.trial import OutcomeKind, TrialOutcome
from hdnotebook.store import Store


class FailingSampler(RandomParameterSampling):
    """Random sampling whose ``fail_at``-th suggestion raises, as a GP's Cholesky can."""

    def __init__(self, space, fail_at, **kw):
        super().__init__(space, **kw)
        self.fail_at = fail_at
        self.calls = 0

    def suggest(self, trials, goal="maximize", count=1):
        self.calls += 1
        if self.calls == self.fail_at:
            raise np.linalg.LinAlgError("Matrix is not positive definite (suggestion %d)" % self.calls)
        return super().suggest(trials, goal, count)


class FailingPolicy(MedianStoppingPolicy):
    """A median policy whose ``fail_at``-th check raises."""

    def __init__(self, fail_at):
        super().__init__(evaluation_interval=1, delay_evaluation=1)
        self.fail_at = fail_at
        self.calls = 0

    def _decide(self, run_id, interval, population, goal):
        self.calls += 1
        if self.calls == self.fail_at:
            raise ZeroDivisionError("policy arithmetic broke at check %d" % self.calls)
        return super()._decide(run_id, interval, population, goal)


def steady(x):
    run = Run.get_context()
    for i in range(5):
        run.log("score", x + i)
        time.sleep(0.05)


def _config(fn, sampler=None, **kw):
    kw.setdefault("policy", NoTerminationPolicy())
    kw.setdefault("max_total_runs", 20)
    kw.setdefault("max_concurrent_runs", 2)
    return HyperDriveConfig(
        estimator=fn,
        hyperparameter_sampling=sampler or RandomParameterSampling({"x": uniform(0, 1)}, seed=5),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **kw,
    )


def _assert_failed_cleanly(run, capsys, words):
    driver = run._controller
    assert driver.wait_done(60), "the experiment did not end"
    details = run.wait_for_completion(show_output=True)
    printed = capsys.readouterr().out
    assert details["status"] == "Failed"
    error = details["properties"]["error"]
    for word in words:
        assert word in error
        assert word in printed  # wait_for_completion(show_output=True) shows why
    assert "Traceback" in details["properties"]["traceback"] and "Traceback" in printed
    # no more lanes than slots were ever started, none is left, every trial ended once
    assert len(driver.feeder.lanes) <= driver.concurrency == 2
    deadline = time.time() + 30
    while not driver.feeder.idle() and time.time() < deadline:  # lanes told "no more work" exit
        driver.feeder.collect_ended()
        time.sleep(0.05)
    assert driver.feeder.idle()
    children = run.get_children()
    assert children and all(c.get_status() in ("Completed", "Canceled") for c in children)
    # every GPU slot is free again
    assert driver.slots.available() == 2.0
    return driver, children


def test_a_sampler_raising_on_its_third_suggestion_fails_the_experiment_with_that_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")
    sampler = FailingSampler({"x": uniform(0, 1)}, fail_at=3, seed=5)
    run = Experiment(Workspace(tmp_path / "ws"), "exp").submit(_config(steady, sampler, gpus_per_trial=1))
    driver, children = _assert_failed_cleanly(run, capsys, ["LinAlgError", "sampler", "suggestion 3"])
    assert sampler.calls == 3  # no suggestion after the failure
    assert len(children) == 2  # the two drawn before it
    assert driver.failure is not None and driver.failure.where.startswith("sampler")


def test_a_policy_raising_on_its_fifth_check_fails_the_experiment_with_that_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")
    policy = FailingPolicy(fail_at=5)
    run = Experiment(Workspace(tmp_path / "ws"), "exp").submit(_config(steady, policy=policy, gpus_per_trial=1))
    driver, children = _assert_failed_cleanly(run, capsys, ["ZeroDivisionError", "policy", "check 5"])
    assert policy.calls == 5  # the failure stopped every trial: nothing more to judge
    assert len(children) <= 3
    assert any(c.get_status() == "Canceled" for c in children)  # told to stop by the failure


def test_the_drain_and_a_lane_reporting_at_once_finish_each_trial_exactly_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")
    store = Store(str(tmp_path / "race.sqlite"))
    store.insert_run(id="P", experiment="e", parent_id=None, number=None, status="Running", created=0.0)
    driver = ExperimentDriver(store, "e", "P", _config(steady, max_total_runs=50, gpus_per_trial=1))
    rounds, drain_won = 25, 0
    driver.feeder.close()  # lanes that report get no next trial: only the race is left
    try:
        for _ in range(rounds):
            lanes = []
            for lane_id in range(2):  # both slots busy
                lane = Lane(lane_id=len(driver.feeder.lanes))
                driver.feeder.lanes[lane.lane_id] = lane
                trial = driver.next_trial()
                lane.current = trial
                assert driver.begin(trial, lane, {"host": "h", "pid": 1}) is not None
                lanes.append((lane, trial))
            assert driver.slots.available() == 0.0
            barrier = threading.Barrier(1 + len(lanes))
            reporters = []
            for lane, trial in lanes:
                outcome = TrialOutcome(trial.run_id, "Completed", kind=OutcomeKind.OK)

                def report(lane=lane, outcome=outcome):
                    barrier.wait()
                    driver.feeder.on_next(lane.lane_id, outcome, {"host": "h", "pid": 1})

                reporters.append(threading.Thread(target=report))
                reporters[-1].start()
            barrier.wait()  # the drain gives up on them just as their lanes report
            stopped = [driver.finish(t, TrialOutcome(t.run_id, "Canceled", kind=OutcomeKind.STOPPED)) for _, t in lanes]
            for reporter in reporters:
                reporter.join(10)
            drain_won += sum(stopped)
            for lane, _ in lanes:
                lane.ended = True
        store.flush()
        trials = driver.trials.order
        assert len(trials) == 2 * rounds
        # one finish won per trial; the other was refused and changed nothing
        assert driver.trials.refused == len(trials)
        assert len(driver.trials.records()) == len(trials)  # one record each for the sampler
        assert driver.slots.available() == 2.0  # each trial's GPU given back once
        rows = {r.id: r for r in store.child_runs("P")}
        assert len(rows) == len(trials)
        for trial in trials:
            assert rows[trial.run_id].status == trial.status in ("Completed", "Canceled")
        assert sum(t.status == "Canceled" for t in trials) == drain_won  # who won decided the status
    finally:
        driver._finish()


def lose_worker_once(x, flag):
    run = Run.get_context()
    for i in range(6):
        run.log("score", x * (i + 1) if i < 3 else x * 3 - 0.1 * i)
        time.sleep(0.02)
        if i == 2 and x > 0.5 and not os.path.exists(flag):
            open(flag, "w").close()
            time.sleep(0.3)  # the values logged so far reach the driver
            os.kill(os.getppid(), signal.SIGKILL)  # the trial host's parent: the pool worker itself
            os._exit(1)  # and the host with it (it holds the worker's pipes open while it lives)


def test_a_retry_is_a_new_run_linked_to_the_lost_one_and_replay_agrees_with_the_live_policy(tmp_path):
    flag = str(tmp_path / "lost-once")

    def train(x):
        lose_worker_once(x, flag)

    policy = BanditPolicy(slack_factor=0.05, evaluation_interval=1, delay_evaluation=2)
    config = _config(train, policy=policy, max_total_runs=8, max_concurrent_runs=1, max_retries=1)
    run = Experiment(Workspace(tmp_path / "ws"), "exp").submit(config)
    run.wait_for_completion()
    assert os.path.exists(flag)
    children = run.get_children()
    props = {c.id: c.get_details()["properties"] for c in children}
    lost = [c for c in children if props[c.id].get("superseded_by")]
    assert len(lost) == 1
    lost = lost[0]
    retry = next(c for c in children if c.id == props[lost.id]["superseded_by"])
    assert retry.id != lost.id and props[retry.id]["rerun_of"] == lost.id
    assert retry.get_details()["parameters"] == lost.get_details()["parameters"]
    assert lost.get_status() == "Failed" and props[lost.id]["outcome"] == "worker_lost"
    assert props[retry.id]["attempts"] == 2
    assert len(lost.get_metrics()["score"]) == 3  # the lost attempt keeps what it logged
    assert len(children) == 9  # 8 counted + the one lost attempt
    # the policy's live decisions, and a replay of the stored values in arrival order: the same
    live = {c.id for c in children if props[c.id].get("stop", {}).get("policy") == "BanditPolicy"}
    replayed = set(run.replay(policy).stopped)
    assert replayed == live
    assert run.get_status() == "Completed"


RESUMER = textwrap.dedent(
    """
    import os, sys, time
    from hdnotebook import Experiment, Workspace
    ws, run_id, go = sys.argv[1], sys.argv[2], sys.argv[3]
    experiment = Experiment(Workspace(ws), "exp")
    while not os.path.exists(go):
        time.sleep(0.001)
    try:
        run = experiment.resume(run_id, backend="threading")
    except ValueError as exc:
        print("REFUSED", exc, flush=True)
        sys.exit(0)
    run.wait_for_completion()
    print("RESUMED", run.get_status(), flush=True)
    """
)


def slow_trial(x):
    run = Run.get_context()
    for i in range(3):
        run.log("score", x * (i + 1))
        time.sleep(0.1)


def test_two_processes_resuming_one_run_one_wins_the_other_gets_a_clear_error(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first = Experiment(ws, "exp").submit(_config(slow_trial, max_total_runs=6, max_concurrent_runs=1),
                                         backend="threading")
    while len(first.get_children()) < 2:
        time.sleep(0.05)
    first.cancel()
    first.wait_for_completion()
    assert first.get_status() == "Canceled"
    script = tmp_path / "resume.py"
    script.write_text(RESUMER)
    go = tmp_path / "go"
    here = os.path.dirname(os.path.abspath(__file__))  # the trial function pickles by reference to this module
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(here), here, os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen([sys.executable, str(script), ws.path, first.id, str(go)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    time.sleep(3)  # both have imported and wait on the same file
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    lines = [out.strip().splitlines()[-1] if out.strip() else err for out, err in outputs]
    won = [line for line in lines if line.startswith("RESUMED")]
    refused = [line for line in lines if line.startswith("REFUSED")]
    assert len(won) == 1 and len(refused) == 1, lines
    assert won[0] == "RESUMED Completed"
    assert "resumed by another process" in refused[0] or "still running in process" in refused[0]
    assert first.get_status() == "Completed"
    counted = [c for c in first.get_children() if not c.get_details()["properties"].get("superseded_by")]
    assert len(counted) == 6  # one driver ran it to its budget, no run id twice


def test_store_claim_is_compare_and_set_across_processes(tmp_path):
    path = str(tmp_path / "cas.sqlite")
    store = Store(path)
    store.insert_run(id="P", experiment="e", parent_id=None, number=None, status="Failed", created=0.0,
                     details={"driver_token": "old"})
    store.flush()
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from hdnotebook.store import Store
        s = Store({path!r})
        while not os.path.exists({str(tmp_path / 'go')!r}):
            time.sleep(0.001)
        print(s.claim_run("P", "driver_token", "old", {{"driver_token": str(os.getpid())}}, status="Running"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(2)
    (tmp_path / "go").touch()
    answers = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(answers) == ["False", "False", "False", "True"]
    row = store.run("P")
    assert row.status == "Running" and row.details["driver_token"] != "old"


def test_a_running_driver_beats_and_a_run_whose_kernel_died_is_settled_only_when_listed(tmp_path):
    from hdnotebook._vocab import HEARTBEAT_SECONDS, driver_alive

    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "exp").submit(_config(slow_trial, max_total_runs=12, max_concurrent_runs=1),
                                       backend="threading")
    first = run.get_details()["properties"]["heartbeat"]
    time.sleep(HEARTBEAT_SECONDS * 1.5 + 0.5)
    later = run.get_details()["properties"]
    assert later["heartbeat"] > first and driver_alive(later)
    # seen from another machine, only the heartbeat tells: fresh is alive, stale is gone
    remote = {**later, "driver_host": "another-host"}
    assert driver_alive(remote) and not driver_alive(remote, now=later["heartbeat"] + 60)
    run.cancel()
    run.wait_for_completion()

    # a parent left Running by a kernel that died (a process that has exited)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = ws.store
    store.insert_run(id="HD_dead", experiment="exp", parent_id=None, number=None, status="Running",
                     created=time.time(), details={"driver_pid": int(dead.stdout), "driver_host": os.uname().nodename})
    store.flush()
    seq = store.run("HD_dead").seq
    Experiment(ws, "exp")
    assert set(ws.experiments) == {"exp"}
    store.flush()
    row = store.run("HD_dead")
    assert (row.status, row.seq) == ("Running", seq)  # opening the experiment wrote nothing
    listed = {r.id: r for r in Experiment(ws, "exp").get_runs()}
    assert listed["HD_dead"].get_status() == "Failed"  # listing its runs settles it
    assert listed["HD_dead"].get_details()["properties"]["interrupted"] is True
