"""Per-run detail (issue 19): every metric a run logged, its output tail (live while a script runs),
its error with traceback, its parameters to copy, the runs it links to; the same from StoredRun, the
widget's model (and its request/response message) and the server."""

from __future__ import annotations

import ast
import time

import pytest

from hdnotebook import (
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Run,
    RunDetails,
    ScriptRunConfig,
    Workspace,
    choice,
    uniform,
)
from hdnotebook.run_view import RunDetailsModel

SCRIPT = '''
import argparse, sys, time
from hdnotebook import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--mode")
args = parser.parse_args()
run = Run.get_context()
for epoch in range(4):
    print(f"epoch {epoch} x={args.x}", flush=True)
    print(f"warning {epoch}", file=sys.stderr, flush=True)
    run.log("score", args.x + epoch)
    run.log("loss", 1.0 / (epoch + 1))
    run.log("phase", "warmup" if epoch < 2 else "main")
    time.sleep(0.4)
if args.mode == "fail":
    raise RuntimeError("the data ran out at the last epoch")
'''


def _config(estimator, modes=("ok", "fail"), **kw):
    return HyperDriveConfig(
        estimator=estimator,
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1), "mode": choice(*modes)}, seed=2),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **kw,
    )


def test_detail_of_script_runs_live_and_finished(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(SCRIPT)
    run = Experiment(Workspace(tmp_path / "ws"), "detail").submit(
        _config(ScriptRunConfig(str(src), "train.py"), max_total_runs=3, max_concurrent_runs=2))
    run.enqueue(x=0.25, mode="fail")
    run.enqueue(x=0.75, mode="ok")
    # while a script runs its output tail grows
    deadline = time.time() + 90
    live = ""
    while time.time() < deadline and "epoch 1" not in live:
        running = [c for c in run.get_children() if c.get_status() == "Running"]
        live = running[0].get_output() if running else ""
        time.sleep(0.1)
    assert "epoch 1" in live and "warning 0" in live
    run.wait_for_completion()
    model = RunDetailsModel(run.store, run.id)
    children = run.get_children()
    failed = [c for c in children if c.get_parameters()["mode"] == "fail"]
    done = [c for c in children if c.get_parameters()["mode"] == "ok"]
    assert failed and done
    for child in children:
        detail = child.get_detail()
        assert detail == model.run_detail(child.id)
        params = child.get_parameters()
        assert ast.literal_eval(detail["params_text"]) == params  # "copy as dict"
        assert detail["metrics"]["score"] == [params["x"] + e for e in range(4)]
        assert detail["metrics"]["loss"] == [1.0, 0.5, pytest.approx(1 / 3), 0.25]
        assert detail["metrics"]["phase"] == ["warmup", "warmup", "main", "main"]  # text values too
        assert "epoch 3" in detail["output"] and "warning 3" in detail["output"]
    bad = failed[0].get_detail()
    assert bad["status"] == "Failed" and "exited with code 1" in bad["error"]
    assert "RuntimeError: the data ran out at the last epoch" in bad["traceback"]
    good = done[0].get_detail()
    assert good["status"] == "Completed" and good["error"] is None and good["traceback"] is None
    with pytest.raises(LookupError, match="is not a run of experiment run"):
        model.run_detail("HD_other_0")


def logging_trial(x, mode):
    run = Run.get_context()
    run.log("score", x)
    run.log("note", "first try")
    if mode == "fail":
        raise ValueError(f"bad x {x:.3f}")


def test_widget_answers_a_detail_request_with_its_id(tmp_path):
    run = Experiment(Workspace(tmp_path / "ws"), "widget").submit(_config(logging_trial, modes=("fail",), max_total_runs=2))
    run.wait_for_completion()
    widget = RunDetails(run)
    sent = []
    widget.send = lambda msg, buffers=None: sent.append(msg)
    failed = next(c for c in run.get_children() if c.get_status() == "Failed")
    widget._on_front_end_msg(widget, {"type": "run_detail", "id": 7, "run_id": failed.id}, [])
    widget._on_front_end_msg(widget, {"type": "run_detail", "id": 8, "run_id": "HD_nope_1"}, [])
    assert [m["id"] for m in sent] == [7, 8]
    detail = sent[0]["detail"]
    assert detail["id"] == failed.id and "ValueError: bad x" in detail["traceback"]
    assert detail["metrics"]["score"] == [failed.get_parameters()["x"]] and detail["metrics"]["note"] == ["first try"]
    assert "error" in sent[1] and "HD_nope_1" in sent[1]["error"]
    widget.close()


def printing_trial(x, mode):
    import sys

    print(f"trial x={x!r} says hello", flush=True)  # at once: the host prints as it gets the trial
    print(f"trial x={x!r} warns", file=sys.stderr, flush=True)
    Run.get_context().log("score", x)


def test_every_function_trial_of_a_reused_host_keeps_its_own_output(tmp_path):
    # one lane, so one host runs trial after trial: each run's output is what it printed, from its
    # first line (the host may print before the lane has looked at the output file), and nothing
    # of the trials before it
    run = Experiment(Workspace(tmp_path / "ws"), "prints").submit(
        _config(printing_trial, modes=("ok",), max_total_runs=12, max_concurrent_runs=1))
    run.wait_for_completion()
    children = run.get_children()
    assert [c.get_status() for c in children] == ["Completed"] * 12
    wrong = {}
    for child in children:
        x = child.get_parameters()["x"]
        want = f"trial x={x!r} says hello\ntrial x={x!r} warns\n"
        if child.get_detail()["output"] != want:
            wrong[child.number] = child.get_detail()["output"]
    assert not wrong, wrong


def slow_printing_trial(x, mode):
    for step in range(8):
        print(f"step {step} of x={x:.4f}", flush=True)
        Run.get_context().log("score", x + step)
        time.sleep(0.3)


def test_a_running_function_trials_output_is_read_live(tmp_path):
    run = Experiment(Workspace(tmp_path / "ws"), "live").submit(
        _config(slow_printing_trial, modes=("ok",), max_total_runs=1))
    deadline = time.time() + 60
    live = ""
    while time.time() < deadline and "step 1 " not in live:
        running = [c for c in run.get_children() if c.get_status() == "Running"]
        live = running[0].get_detail()["output"] if running else ""
        time.sleep(0.1)
    assert "step 1 " in live and "step 7 " not in live  # read while it ran
    assert [c.get_status() for c in run.get_children()] == ["Running"]
    run.wait_for_completion()
    child = run.get_children()[0]
    x = child.get_parameters()["x"]
    want = "".join(f"step {s} of x={x:.4f}\n" for s in range(8))
    assert child.get_details()["properties"]["output"] == want == child.get_detail()["output"]
