"""The engine with real processes: function and script trials, limits, GPUs, faults, reopening."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from hdnotebook import (
    Estimator,
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    GridParameterSampling,
    Run,
    ScriptRunConfig,
    Workspace,
    choice,
    loguniform,
    uniform,
)


def _config(fn, space=None, **kw):
    kw.setdefault("policy", NoTerminationPolicy())
    kw.setdefault("max_total_runs", 4)
    return HyperDriveConfig(
        estimator=fn,
        hyperparameter_sampling=RandomParameterSampling(space or {"x": uniform(0, 1)}, seed=3),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **kw,
    )


def _submit(tmp_path, config, name="exp"):
    return Experiment(Workspace(tmp_path / "ws"), name).submit(config)


def _finish(run, timeout=60):
    run.wait_for_completion(show_output=False)
    return run


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def curve_trial(x):
    run = Run.get_context()
    for i in range(3):
        run.log("score", x * (i + 1))
        run.log("pid", os.getpid())
    return None


def test_function_trials_log_through_get_context_and_best_run_is_the_best_value(tmp_path):
    run = _finish(_submit(tmp_path, _config(curve_trial, max_total_runs=4, max_concurrent_runs=2)))
    children = run.get_children()
    assert [c.get_status() for c in children] == ["Completed"] * 4
    best = run.get_best_run_by_primary_metric()
    xs = {c.id: c.get_details()["parameters"]["x"] for c in children}
    assert best.id == max(xs, key=xs.get)
    assert best.get_metrics()["score"] == pytest.approx([xs[best.id] * k for k in (1, 2, 3)])
    assert run.get_status() == "Completed"


def test_closure_defined_in_a_cell_runs_and_its_return_value_is_the_primary_metric(tmp_path):
    offset = 10.0

    def train(x):  # a closure, as a notebook cell would define it
        return x + offset

    run = _finish(_submit(tmp_path, _config(train, max_total_runs=3)))
    for child in run.get_children():
        x = child.get_details()["parameters"]["x"]
        assert child.get_metrics()["score"] == pytest.approx(x + offset)


def sleepy_trial(x):
    run = Run.get_context()
    run.log("start", time.time())
    time.sleep(0.4)
    run.log("end", time.time())
    return x


def test_concurrency_never_exceeds_max_concurrent_runs(tmp_path):
    run = _finish(_submit(tmp_path, _config(sleepy_trial, max_total_runs=6, max_concurrent_runs=2)))
    spans = [(c.get_metrics()["start"], c.get_metrics()["end"]) for c in run.get_children()]
    assert len(spans) == 6
    for start, _ in spans:
        overlapping = sum(1 for s, e in spans if s <= start < e)
        assert overlapping <= 2
    # and it did run two at once, or the limit says nothing
    assert max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans) == 2


def test_grid_smaller_than_max_total_runs_ends_early(tmp_path):
    config = HyperDriveConfig(
        estimator=lambda a, b: a * b,
        hyperparameter_sampling=GridParameterSampling({"a": choice(1, 2, 3), "b": choice(16, 32)}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=100,
    )
    run = _finish(_submit(tmp_path, config))
    params = [c.get_details()["parameters"] for c in run.get_children()]
    assert params == [{"a": a, "b": b} for a in (1, 2, 3) for b in (16, 32)]
    assert run.get_best_run_by_primary_metric().get_metrics()["score"] == 96


def faulty_trial(x, mode):
    if mode == "raise":
        raise ValueError(f"bad x {x}")
    if mode == "abort":
        os.abort()
    if mode == "exit":
        os._exit(3)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.3)
    return x


def test_a_trial_that_raises_or_dies_is_failed_and_the_experiment_goes_on(tmp_path):
    config = HyperDriveConfig(
        estimator=faulty_trial,
        hyperparameter_sampling=GridParameterSampling(
            {"mode": choice("ok", "raise", "abort", "exit", "kill", "ok2"), "x": choice(1.0)}
        ),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_concurrent_runs=3,
    )
    run = _finish(_submit(tmp_path, config))
    by_mode = {c.get_details()["parameters"]["mode"]: c.get_details() for c in run.get_children()}
    assert by_mode["ok"]["status"] == by_mode["ok2"]["status"] == "Completed"
    assert by_mode["raise"]["status"] == "Failed"
    assert "ValueError: bad x 1.0" in by_mode["raise"]["error"]["traceback"]
    assert "SIGABRT" in by_mode["abort"]["error"]["message"]
    assert "exited with code 3" in by_mode["exit"]["error"]["message"]
    assert "SIGKILL" in by_mode["kill"]["error"]["message"]
    assert run.get_status() == "Completed"


def stubborn_trial(x):
    run = Run.get_context()
    run.log("pid", os.getpid())
    while True:  # never logs again and never ends by itself
        time.sleep(0.05)


def hosted_trial(step, mode):
    run = Run.get_context()
    run.log("pid", os.getpid())
    run.log("worker", os.getppid())
    if mode == "abort":
        os.abort()
    return float(step)


def test_one_lane_runs_its_trials_in_one_host_process_and_a_crash_costs_only_that_trial(tmp_path):
    modes = ["ok", "ok", "abort", "ok", "ok"]
    config = HyperDriveConfig(
        estimator=lambda step: hosted_trial(step, modes[step]),
        hyperparameter_sampling=GridParameterSampling({"step": choice(*range(len(modes)))}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_concurrent_runs=1,
    )
    run = _finish(_submit(tmp_path, config))
    children = sorted(run.get_children(), key=lambda c: c.get_details()["parameters"]["step"])
    assert [c.get_status() for c in children] == ["Completed", "Completed", "Failed", "Completed", "Completed"]
    assert "SIGABRT" in children[2].get_details()["error"]["message"]
    ran = [c for c in children if c.get_status() == "Completed"]
    pids = [int(c.get_metrics()["pid"]) for c in ran]
    assert pids[0] == pids[1]  # one host ran the lane's trials until the crash
    assert pids[2] == pids[3] != pids[1]  # then a fresh host, in the same worker
    assert len({int(c.get_metrics()["worker"]) for c in ran}) == 1
    assert [c.get_metrics()["score"] for c in children if c.get_status() == "Completed"] == [0.0, 1.0, 3.0, 4.0]


def warming_trial(step, mode):
    run = Run.get_context()
    # What the worker (the host's parent) has loaded, read before this trial imports anything.
    with open(f"/proc/{os.getppid()}/maps") as fh:
        run.log("worker_has_sklearn", "/sklearn/" in fh.read())
    run.log("host_has_sklearn", "sklearn.linear_model" in sys.modules)
    import sklearn.linear_model  # noqa: F401  (a heavy package the worker warms for later hosts)

    if mode == "abort":
        os.abort()
    return float(step)


def test_the_worker_warms_heavy_imports_only_when_it_forks_a_new_host(tmp_path):
    # Warming right after each trial held the lane for the import (5 s for torch on a GPU machine)
    # before it asked for the next trial; the worker now imports just before forking a new host.
    modes = ["ok", "ok", "abort", "ok"]
    config = HyperDriveConfig(
        estimator=lambda step: warming_trial(step, modes[step]),
        hyperparameter_sampling=GridParameterSampling({"step": choice(*range(len(modes)))}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_concurrent_runs=1,
    )
    run = _finish(_submit(tmp_path, config))
    children = sorted(run.get_children(), key=lambda c: c.get_details()["parameters"]["step"])
    assert [c.get_status() for c in children] == ["Completed", "Completed", "Failed", "Completed"]
    seen = {i: (c.get_metrics()["worker_has_sklearn"], c.get_metrics()["host_has_sklearn"])
            for i, c in enumerate(children) if c.get_status() == "Completed"}
    # Trial 1 runs in the first host after trial 0: the host has sklearn, the worker has not.
    assert seen[1] == (0.0, 1.0)
    # After the crash the worker imported sklearn before forking the fresh host, which starts with it.
    assert seen[3] == (1.0, 1.0)


def gated_trial(x, gate):
    deadline = time.time() + 60
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.02)
    return x


def test_a_running_experiment_leaves_room_for_another_and_for_the_users_own_joblib_calls(tmp_path):
    from joblib import Parallel, delayed

    gate = str(tmp_path / "gate")
    blocked = _submit(tmp_path, _config(lambda x: gated_trial(x, gate), max_total_runs=2, max_concurrent_runs=2), "a")
    try:
        deadline = time.time() + 30
        while time.time() < deadline and sum(c.get_status() == "Running" for c in blocked.get_children()) < 2:
            time.sleep(0.05)
        assert [c.get_status() for c in blocked.get_children()] == ["Running", "Running"]
        # both of its trials hold their lanes until the gate opens, and yet:
        assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]
        other = _finish(_submit(tmp_path, _config(lambda x: x, max_total_runs=3, max_concurrent_runs=2), "b"))
        assert [c.get_status() for c in other.get_children()] == ["Completed"] * 3
        assert blocked.get_status() == "Running"
    finally:
        open(gate, "w").close()
    _finish(blocked)
    assert [c.get_status() for c in blocked.get_children()] == ["Completed", "Completed"]


def test_a_trial_function_that_does_not_pickle_fails_the_experiment_with_what_to_do(tmp_path):
    lock = threading.Lock()

    def locked(x):
        with lock:
            return x

    run = _finish(_submit(tmp_path, _config(locked)))
    assert run.get_status() == "Failed"
    error = run.get_details()["properties"]["error"]
    assert "could not run a trial" in error and "must pickle" in error
    assert "backend='threading'" in error


@pytest.mark.parametrize("how", ["cancel", "deadline"])
def test_cancel_and_deadline_end_every_trial_process_within_5_seconds(tmp_path, how):
    duration = 8.0  # room for a fresh worker pool to start on a loaded machine
    kw = {"max_duration_minutes": duration / 60} if how == "deadline" else {}
    run = _submit(tmp_path, _config(stubborn_trial, max_total_runs=4, max_concurrent_runs=2, **kw))
    deadline = time.time() + 30
    while time.time() < deadline and sum(1 for c in run.get_children() if "pid" in c.get_metrics()) < 2:
        time.sleep(0.1)
    pids = [c.get_metrics()["pid"] for c in run.get_children() if "pid" in c.get_metrics()]
    assert len(pids) == 2
    started = time.time() if how == "cancel" else run._controller.started + duration
    if how == "cancel":
        run.cancel()
    run.wait_for_completion()
    assert time.time() - started < 5  # after the cancel, or after the deadline
    statuses = [c.get_status() for c in run.get_children()]
    assert statuses == ["Canceled", "Canceled"]
    time.sleep(0.2)
    assert not [p for p in pids if _pid_alive(int(p))]
    reason = run.get_children()[0].get_details()["stopReason"]
    assert ("max_duration_minutes" in reason) if how == "deadline" else ("canceled by the user" in reason)


def gpu_trial(x, barrier, wave):
    """Waits (at most 20 s) until `wave` trials have started, so a full wave surely overlaps."""
    run = Run.get_context()
    run.log("devices", os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    open(os.path.join(barrier, f"{os.getpid()}-{time.time_ns()}"), "w").close()
    deadline = time.time() + 20
    while len(os.listdir(barrier)) < wave and time.time() < deadline:
        time.sleep(0.02)
    run.log("start", time.time())
    time.sleep(0.3)
    run.log("end", time.time())
    return x


@pytest.mark.parametrize("per_trial,per_gpu", [(1, 1), (0.5, 2)])
def test_gpu_slots_never_overbook_and_each_trial_sees_only_its_gpu(tmp_path, monkeypatch, per_trial, per_gpu):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "2")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    wave = 2 * per_gpu  # what the two GPUs hold at once
    space = {"x": uniform(0, 1), "barrier": choice(str(barrier)), "wave": choice(wave)}
    run = _finish(_submit(tmp_path, _config(gpu_trial, space, max_total_runs=8, gpus_per_trial=per_trial)))
    spans = []
    for child in run.get_children():
        m = child.get_metrics()
        assert m["devices"] in ("0", "1"), child.get_details()
        spans.append((m["devices"], m["start"], m["end"]))
    sharing = [sum(1 for d, s, e in spans if d == device and s <= start < e) for device, start, _ in spans]
    assert max(sharing) == per_gpu  # never overbooked, and fractions do share a GPU
    assert max(sum(1 for _, s, e in spans if s <= start < e) for _, start, _ in spans) == wave


def test_gpu_request_beyond_the_machine_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HDNOTEBOOK_GPUS", "0")
    with pytest.raises(ValueError, match="no GPU was found"):
        _submit(tmp_path, _config(gpu_trial, gpus_per_trial=1))


ARTICLE_SCRIPT = '''
import argparse
from hdnotebook import Run
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder", dest="data_folder")
parser.add_argument("--batch-size", type=int)
parser.add_argument("--first-layer-neurons", type=int)
parser.add_argument("--learning-rate", type=float)
args = parser.parse_args()
run = Run.get_context()
for epoch in range(3):
    run.log("accuracy", float(1 - args.learning_rate * 10 + epoch * 0.01 + args.batch_size / 1000))
'''


@pytest.mark.parametrize("kind", ["ScriptRunConfig", "Estimator"])
def test_article_flow_with_a_script_estimator(tmp_path, kind):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(ARTICLE_SCRIPT)
    if kind == "Estimator":
        estimator = Estimator(source_directory=str(src), entry_script="train.py", script_params={"--data-folder": "d"})
    else:
        estimator = ScriptRunConfig(str(src), "train.py", arguments=["--data-folder", "d"])
    sampling = RandomParameterSampling(
        {"batch-size": choice(16, 32, 64, 128), "first-layer-neurons": choice(10, 50, 200),
         "learning-rate": loguniform(-6, -1)}, seed=7,
    )
    config = HyperDriveConfig(
        estimator=estimator, hyperparameter_sampling=sampling, policy=NoTerminationPolicy(),
        primary_metric_name="accuracy", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=4, max_concurrent_runs=2,
    )
    run = _finish(_submit(tmp_path, config))
    assert [c.get_status() for c in run.get_children()] == ["Completed"] * 4
    best = run.get_best_run_by_primary_metric()
    parameter_values = best.get_details()["runDefinition"]["Arguments"]
    params = best.get_details()["parameters"]
    assert parameter_values[:2] == ["--data-folder", "d"]
    assert parameter_values[3] == str(params["batch-size"])
    assert parameter_values[5] == str(params["first-layer-neurons"])
    assert float(parameter_values[7]) == params["learning-rate"]
    assert len(best.get_metrics()["accuracy"]) == 3


def test_a_failing_script_is_failed_with_its_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.py").write_text("raise SystemExit('no data folder given')\n")
    config = _config(ScriptRunConfig(str(src), "bad.py"), max_total_runs=1)
    run = _finish(_submit(tmp_path, config))
    details = run.get_children()[0].get_details()
    assert details["status"] == "Failed"
    assert "no data folder given" in details["error"]["traceback"]


def test_offline_run_outside_an_experiment_keeps_working():
    run = Run.get_context()
    run.log("accuracy", 0.5)
    run.log("accuracy", 0.7)
    assert run.get_metrics()["accuracy"] == [0.5, 0.7]


def test_many_values_from_concurrent_trials_are_all_stored(tmp_path):
    def chatty(x):
        run = Run.get_context()
        for i in range(3000):
            run.log("loss", i)
        return x

    run = _finish(_submit(tmp_path, _config(chatty, max_total_runs=4, max_concurrent_runs=4)))
    for child in run.get_children():
        assert child.get_metrics()["loss"] == list(range(3000))


#: what one trial logs below: every kind of value, interleaved names; the values after the
#: first JSON_ABLE go in a batch of their own, as JSON cannot carry them (msgpack rows then)
LOGGED = [0.1, 1 / 3, -0.0, 2.5e-310, 7, 2**60 + 1, True, None, "a \"quoted\" \\ text", float("nan"), "héllo ☃",
          10**400, float("inf"), "nul\x00"]
JSON_ABLE = 11


def _log_then_check_the_last_trial(i, ackdir, store_path):
    """Trial 0 logs LOGGED (twice, under two names) and returns; trial 1 logs one value and, once
    that value is acknowledged (committed), reads the store: trial 0 must be Completed there."""
    import sqlite3

    run = Run.get_context()
    if i == 0:
        for k, value in enumerate(LOGGED):
            if k == JSON_ABLE:
                run.flush()
            run.log("value", value)
            run.log("step", k)
        return 0.5
    run.log("alive", 1.0)
    run.flush()
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    status = conn.execute("SELECT status FROM runs WHERE parent_id IS NOT NULL AND number = 0").fetchone()
    with open(os.path.join(ackdir, "seen"), "w") as f:
        f.write(str(status[0] if status else None))
    return 0.1


def test_values_read_back_as_logged_and_a_trials_end_is_committed_before_the_next_is_acknowledged(tmp_path):
    """A lane gets its next trial without waiting for the commit of how the last one ended: the
    writer commits in queue order, so the next trial's first acknowledged value implies it."""
    ws = Workspace(tmp_path / "ws")
    config = HyperDriveConfig(
        estimator=_log_then_check_the_last_trial,
        hyperparameter_sampling=GridParameterSampling({
            "i": choice(0, 1), "ackdir": choice(str(tmp_path)), "store_path": choice(ws.store_path)}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=2, max_concurrent_runs=1,
    )
    run = _finish(Experiment(ws, "exp").submit(config))
    first, second = sorted(run.get_children(), key=lambda c: c.get_details()["parameters"]["i"])
    assert [first.get_status(), second.get_status()] == ["Completed", "Completed"]
    assert (tmp_path / "seen").read_text() == "Completed"
    values = first.get_metrics()["value"]
    assert len(values) == len(LOGGED) and first.get_metrics()["step"] == list(range(len(LOGGED)))
    for got, want in zip(values, LOGGED):
        assert (got != got and want != want) or (got == want and type(got) is type(want)), (got, want)


REOPEN = textwrap.dedent('''
    import sys, json
    from hdnotebook import Workspace, Experiment
    exp = Experiment(Workspace(sys.argv[1]), "exp")
    runs = exp.get_runs()
    out = []
    for r in runs:
        out.append({"status": r.get_status(), "children": [
            {"status": c.get_status(), "metrics": c.get_metrics(), "details": c.get_details()} for c in r.get_children()]})
    print(json.dumps(out))
''')


def test_reopened_in_a_new_process_every_run_and_metric_is_there(tmp_path):
    run = _finish(_submit(tmp_path, _config(curve_trial, max_total_runs=3)))
    expected = {c.id: c.get_metrics()["score"] for c in run.get_children()}
    out = subprocess.run([sys.executable, "-c", REOPEN, str(tmp_path / "ws")], capture_output=True, text=True, timeout=60)
    import json

    data = json.loads(out.stdout)
    assert len(data) == 1 and data[0]["status"] == "Completed"
    got = {c["details"]["runId"]: c["metrics"]["score"] for c in data[0]["children"]}
    assert got == expected


KILLED_DRIVER = textwrap.dedent('''
    import os, sys, time
    from hdnotebook import Run, HyperDriveConfig, RandomParameterSampling, uniform, NoTerminationPolicy, Experiment, Workspace
    def train(x):
        run = Run.get_context()
        for i in range(1000):
            run.log("score", x)
            time.sleep(0.05)
    config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize", max_total_runs=2)
    run = Experiment(Workspace(sys.argv[1]), "exp").submit(config)
    while sum(len(v) for v in run.primary_values().values()) < 4:
        time.sleep(0.05)
    seen = sum(len(v) for v in run.primary_values().values())
    print(seen, run.id, flush=True)
    os._exit(0)  # the kernel dies
''')


def test_runs_left_running_by_a_dead_kernel_are_marked_interrupted_when_reopened(tmp_path):
    log = tmp_path / "driver.out"
    with open(log, "w") as out:  # a file, not a pipe: pool workers may outlive the driver a moment
        subprocess.run([sys.executable, "-c", KILLED_DRIVER, str(tmp_path / "ws")], stdout=out, timeout=60)
    seen, parent_id = log.read_text().strip().splitlines()[-1].split()
    exp = Experiment(Workspace(tmp_path / "ws"), "exp")
    run = exp.get_runs()[0]
    assert run.id == parent_id
    assert run.get_status() == "Failed"
    assert run.get_details()["properties"]["interrupted"] is True
    children = run.get_children()
    assert children and all(c.get_status() == "Failed" for c in children)
    assert sum(len(v) for v in run.primary_values().values()) >= int(seen)  # what was stored is kept


def test_interrupting_the_waiting_cell_stops_the_waiting_not_the_experiment(tmp_path, capsys):
    import _thread
    import threading

    gate = str(tmp_path / "gate")  # the trials cannot end before the test opens it
    run = _submit(tmp_path, _config(lambda x: gated_trial(x, gate), max_total_runs=4, max_concurrent_runs=2))
    threading.Timer(0.5, _thread.interrupt_main).start()  # what the notebook's stop button does
    started = time.time()
    try:
        run.wait_for_completion()
        assert time.time() - started < 5
        assert "goes on in the background" in capsys.readouterr().err
        assert run.get_status() == "Running"
    finally:
        open(gate, "w").close()
    run.wait_for_completion()
    assert [c.get_status() for c in run.get_children()] == ["Completed"] * 4


def logs_then_waits(x):
    run = Run.get_context()
    run.log("logged_at", time.time())
    run.log("score", x)
    time.sleep(3)


def test_a_logged_value_reaches_the_store_and_the_parent_run_within_a_second(tmp_path):
    run = _submit(tmp_path, _config(logs_then_waits, max_total_runs=1))
    seen_at = None
    deadline = time.time() + 30
    while time.time() < deadline:
        children = run.get_children()
        if children and children[0].get_metrics().get("logged_at"):
            seen_at = time.time()
            break
        time.sleep(0.02)
    assert seen_at is not None
    assert seen_at - run.get_children()[0].get_metrics()["logged_at"] < 1.0
    assert run.get_status() == "Running"  # seen while the trial still runs
    run.cancel()
    run.wait_for_completion()


def test_the_policy_sees_every_primary_value_of_a_json_batch_and_only_those():
    """The driver decodes a trial's JSON rows only when they can hold the primary metric; an
    escaped name that decodes to it still counts, a text value that looks like it does not."""
    import json
    import math

    from hdnotebook.engine.scheduler import primary_values

    rows = [["acc", 0, 0, 0.9, None, 1.0], ["loss", 0, 0, 0.5, None, 1.0], ["loss", 1, 2, None, None, 1.0],
            ["loss", 2, 1, None, "text", 1.0], ["loss", 3, 3, None, None, 1.0], ["loss", 4, 4, 1.0, None, 1.0]]
    got = primary_values(json.dumps(rows, separators=(",", ":")), "loss")
    assert got[0] == 0.5 and math.isnan(got[1]) and got[2:] == [1.0]  # text and None are not numbers
    assert primary_values(json.dumps(rows), "acc") == [0.9] == primary_values(rows, "acc")
    escaped = '[["\\u006coss",0,0,0.25,null,1.0]]'  # a client that escapes every letter it likes
    assert primary_values(escaped, "loss") == [0.25]
    lookalike = json.dumps([["acc", 0, 1, None, '"loss"', 1.0]], ensure_ascii=False)
    assert primary_values(lookalike, "loss") == []
    assert primary_values('[["acc",0,0,0.9,null,1.0]]', "loss") == []
