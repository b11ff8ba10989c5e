"""Resume after a killed kernel, and warm start from an earlier experiment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from hdnotebook import (
    BayesianParameterSampling,
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    RandomParameterSampling,
    Run,
    Workspace,
    uniform,
)
from hdnotebook.sampling.base import TrialRecord

STEPS = 8

# A kernel that submits an experiment and is killed (SIGKILL) once two trials have finished
# while others are still running. The trial function lives in its __main__: resume must get it
# back from the config stored at submit (cloudpickle).
KILLED_KERNEL = textwrap.dedent('''
    import os, signal, sys, time
    from hdnotebook import (Run, HyperDriveConfig, RandomParameterSampling, BayesianParameterSampling,
                            uniform, NoTerminationPolicy, Experiment, Workspace)

    def train(x):
        run = Run.get_context()
        for i in range(%(steps)d):
            run.log("i", i)
            run.log("score", x * (i + 1))
            time.sleep(0.03 if x < 0.5 else 0.25)

    sampler = {"random": RandomParameterSampling, "bayesian": BayesianParameterSampling}[sys.argv[2]]
    config = HyperDriveConfig(estimator=train,
        hyperparameter_sampling=sampler({"x": uniform(0, 1)}, seed=11),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=int(sys.argv[3]), max_concurrent_runs=2)
    run = Experiment(Workspace(sys.argv[1]), "exp").submit(config)
    while True:
        children = run.get_children()
        done = [c for c in children if c.get_status() == "Completed"]
        running = [c for c in children if c.get_status() == "Running" and c.get_metrics().get("i")]
        if len(done) >= 2 and running:
            break
        time.sleep(0.02)
    print(run.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
''') % {"steps": STEPS}


def _kill_a_kernel_mid_experiment(tmp_path, sampler="random", total=6):
    log = tmp_path / "kernel.out"
    with open(log, "w") as out:  # a file, not a pipe: pool workers may outlive the kernel a moment
        proc = subprocess.run(
            [sys.executable, "-c", KILLED_KERNEL, str(tmp_path / "ws"), sampler, str(total)],
            stdout=out, stderr=subprocess.STDOUT, timeout=120,
        )
    assert proc.returncode == -9, log.read_text()
    return log.read_text().split()[-1]


def _expected_curve(x):
    return [x * (i + 1) for i in range(STEPS)]


def test_a_killed_kernel_is_resumed_to_its_budget_and_nothing_finished_is_lost(tmp_path):
    parent_id = _kill_a_kernel_mid_experiment(tmp_path)
    experiment = Experiment(Workspace(tmp_path / "ws"), "exp")  # a restarted kernel
    before = {c.id: (c.get_status(), c.get_details(), c.get_metrics()) for c in experiment.get_runs()[0].get_children()}
    finished_before = {rid for rid, (status, _, _) in before.items() if status == "Completed"}
    interrupted = {rid for rid, (_, details, _) in before.items() if details["properties"].get("interrupted")}
    assert len(finished_before) >= 2 and interrupted

    run = experiment.resume()  # the newest unfinished run, with the config stored at submit
    assert run.id == parent_id
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    assert run.get_details()["properties"]["resumed"] == 1

    children = {c.id: c for c in run.get_children()}
    counted = [c for c in children.values() if "superseded_by" not in c.get_details()["properties"]]
    assert len(counted) == 6  # max_total_runs: finished trials counted, interrupted ones re-run
    assert all(c.get_status() == "Completed" for c in counted)
    for rid in finished_before:  # untouched: every value logged before the kill is there
        status, details, metrics = before[rid]
        assert children[rid].get_status() == "Completed"
        assert children[rid].get_metrics() == metrics
        assert metrics["score"] == pytest.approx(_expected_curve(details["parameters"]["x"]))
        assert metrics["i"] == list(range(STEPS))
    for rid in interrupted:  # re-run as a new run with the same parameters and a clean curve
        old = children[rid]
        new = children[old.get_details()["properties"]["superseded_by"]]
        assert old.get_status() == "Failed"
        assert old.get_metrics() == before[rid][2]  # its partial values are kept
        assert new.get_details()["properties"]["rerun_of"] == rid
        x = new.get_details()["parameters"]["x"]
        assert x == old.get_details()["parameters"]["x"]
        assert new.get_metrics()["score"] == pytest.approx(_expected_curve(x))
    # the seeded sampler went on where it was: the six configurations an uninterrupted run draws
    sampler = RandomParameterSampling({"x": uniform(0, 1)}, seed=11)
    expected = sorted(sampler.suggest([TrialRecord(i, {}) for i in range(k)])[0]["x"] for k in range(6))
    assert sorted(c.get_details()["parameters"]["x"] for c in counted) == pytest.approx(expected)


class SpySampling(BayesianParameterSampling):
    """Bayesian sampling that keeps every history it was given."""

    seen: list[list[TrialRecord]] = []

    def suggest(self, trials, goal="maximize", count=1):
        SpySampling.seen.append(list(trials))
        return super().suggest(trials, goal, count)


def _spy_config(fn, total, seed=11, **kw):
    return HyperDriveConfig(
        estimator=fn, hyperparameter_sampling=SpySampling({"x": uniform(0, 1)}, seed=seed),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=total, max_concurrent_runs=2, **kw,
    )


def train(x):
    run = Run.get_context()
    for i in range(STEPS):
        run.log("i", i)
        run.log("score", x * (i + 1))
        time.sleep(0.03 if x < 0.5 else 0.25)


def test_bayesian_resume_gives_the_sampler_the_stored_history(tmp_path):
    _kill_a_kernel_mid_experiment(tmp_path, sampler="bayesian", total=7)
    experiment = Experiment(Workspace(tmp_path / "ws"), "exp")
    stored = experiment.get_runs()[0]
    finished = [c for c in stored.get_children() if c.get_status() == "Completed"]
    interrupted = [c for c in stored.get_children() if c.get_status() == "Failed"]
    SpySampling.seen.clear()
    run = stored.resume(config=_spy_config(train, 7))
    run.wait_for_completion()
    assert run.get_status() == "Completed"

    # its first proposal after the restart saw every finished trial, with the values the store
    # has, in creation order, then the re-runs of the interrupted ones (run first, same parameters)
    first = SpySampling.seen[0]
    done, reruns = first[: len(finished)], first[len(finished):]
    assert [(r.number, r.state, r.params["x"]) for r in done] == [
        (c.number, "completed", c.get_details()["parameters"]["x"]) for c in finished
    ]
    for record, child in zip(done, finished):
        assert record.value == pytest.approx(max(child.get_metrics()["score"]))
        assert list(record.curve) == pytest.approx(child.get_metrics()["score"])
    assert sorted(r.params["x"] for r in reruns) == sorted(c.get_details()["parameters"]["x"] for c in interrupted)
    assert len(first) == len(finished) + len(interrupted)
    counted = [c for c in run.get_children() if "superseded_by" not in c.get_details()["properties"]]
    assert len(counted) == 7


def quick(x):
    return -((x - 0.3) ** 2)


def test_warm_start_hands_the_earlier_trials_to_the_sampler(tmp_path):
    ws = Workspace(tmp_path / "ws")
    earlier = Experiment(ws, "first").submit(_spy_config(quick, 5, seed=1))
    earlier.wait_for_completion()
    values = {c.get_details()["parameters"]["x"]: c.get_metrics()["score"] for c in earlier.get_children()}

    for how in ("config", "submit"):
        SpySampling.seen.clear()
        if how == "config":
            run = Experiment(ws, "second").submit(_spy_config(quick, 2, seed=2, warm_start=[earlier]))
        else:
            run = Experiment(ws, "second").submit(_spy_config(quick, 2, seed=2), warm_start=earlier)
        run.wait_for_completion()
        first = SpySampling.seen[0]
        assert {r.params["x"]: r.value for r in first} == pytest.approx(values)
        assert all(r.state == "completed" for r in first)
        assert len(run.get_children()) == 2  # the earlier trials are not runs of this experiment
        assert run.get_details()["properties"]["warm_start"] == [earlier.id]


def test_warm_start_over_another_space_is_a_clear_error(tmp_path):
    ws = Workspace(tmp_path / "ws")
    earlier = Experiment(ws, "first").submit(_spy_config(quick, 2))
    earlier.wait_for_completion()
    config = HyperDriveConfig(
        estimator=lambda y: y, hyperparameter_sampling=BayesianParameterSampling({"y": uniform(0, 1)}),
        primary_metric_name="score", primary_metric_goal="maximize", max_total_runs=2, warm_start=earlier,
    )
    with pytest.raises(ValueError, match="same space"):
        Experiment(ws, "second").submit(config)


def test_resume_needs_the_config_when_it_could_not_be_stored_and_refuses_finished_runs(tmp_path):
    lock = threading.Lock()  # an estimator that does not pickle: it runs on threads

    def locked(x):
        with lock:
            time.sleep(0.2)
            return x

    ws = Workspace(tmp_path / "ws")
    config = HyperDriveConfig(
        estimator=locked, hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=5),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=4, max_concurrent_runs=1,
    )
    run = Experiment(ws, "exp").submit(config, backend="threading")
    while len(run.get_children()) < 2:
        time.sleep(0.01)
    run.cancel()
    run.wait_for_completion()
    assert run.get_status() == "Canceled"
    with pytest.raises(ValueError, match="resume\\(config=config\\)"):
        Experiment(ws, "exp").resume()
    resumed = Experiment(ws, "exp").resume(config=config, backend="threading")
    resumed.wait_for_completion()
    assert resumed.get_status() == "Completed"
    assert len([c for c in resumed.get_children() if c.get_status() == "Completed"]) >= 3
    assert len(resumed.get_children()) == 4
    with pytest.raises(ValueError, match="nothing left to run"):
        Experiment(ws, "exp").resume(run.id, config=config, backend="threading")
    with pytest.raises(ValueError, match="no unfinished"):
        Experiment(ws, "exp").resume()


def gated_quick(x, gate):
    deadline = time.time() + 60
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.02)
    return x


def test_a_run_canceled_from_another_kernel_resumes_and_is_not_canceled_again(tmp_path):
    # A cancel written to the store by another kernel (or the sidebar) belongs to the session that
    # ran then; the driver of a later resume must not read it again and cancel itself at once.
    ws = Workspace(tmp_path / "ws")
    gate = str(tmp_path / "gate")
    config = HyperDriveConfig(
        estimator=lambda x: gated_quick(x, gate), hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=5),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=6, max_concurrent_runs=1,
    )
    run = Experiment(ws, "exp").submit(config)
    while not run.get_children():
        time.sleep(0.02)
    canceller = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            from hdnotebook import Experiment, Workspace
            [parent] = Experiment(Workspace({str(tmp_path / 'ws')!r}), "exp").get_runs()
            parent.cancel()
        """)], capture_output=True, text=True, timeout=120)
    assert canceller.returncode == 0, canceller.stderr
    run.wait_for_completion()
    assert run.get_status() == "Canceled"
    before = len(run.get_children())
    open(gate, "w").close()
    resumed = Experiment(ws, "exp").resume(run.id)
    resumed.wait_for_completion()
    assert resumed.get_status() == "Completed"
    children = resumed.get_children()
    assert len(children) >= 6 > before
    assert sum(c.get_status() == "Completed" for c in children) >= 6 - before
