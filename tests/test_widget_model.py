"""The RunDetails model: store changes -> rows, curves, snapshot and small incremental updates."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time

import pytest

from hdnotebook import (
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    RandomParameterSampling,
    Run,
    RunDetails,
    Workspace,
    choice,
    loguniform,
    uniform,
)
from hdnotebook.run import HyperDriveRun
from hdnotebook.store import Store, encode_value
from hdnotebook.run_view import RunDetailsModel, apply_message, curves
from hdnotebook.space import param_axes
from hdnotebook.widgets.static import static_html, static_text

SPACE = {"lr": "loguniform(-6, -1)", "batch_size": "choice(16, 32, 64)", "optimizer": "choice('sgd', 'adam')",
         "dropout": "uniform(0, 0.5)"}


def _parent(store: Store, pid: str = "HD_test", status: str = "Running", **details) -> str:
    store.add_experiment("exp")
    base = {"primary_metric_name": "accuracy", "goal": "maximize", "max_total_runs": 10, "space": SPACE,
            "policy": "BanditPolicy(slack_factor=0.1)", "sampling": "random"}
    store.insert_run(id=pid, experiment="exp", parent_id=None, number=None, status=status, created=time.time(),
                     started=time.time(), params={}, details={**base, **details})
    return pid


def _child(store: Store, pid: str, n: int, status: str = "Running", **details) -> str:
    rid = f"{pid}_{n}"
    store.insert_run(id=rid, experiment="exp", parent_id=pid, number=n, status=status, created=time.time(),
                     started=time.time(), params={"lr": 10.0 ** -(n + 2), "batch_size": 32, "optimizer": "adam",
                                                  "dropout": 0.1 * n}, details=details)
    return rid


def _log(store: Store, rid: str, values, name: str = "accuracy", start: int = 0) -> None:
    store.add_metrics((rid, name, start + i, *encode_value(v), time.time()) for i, v in enumerate(values))


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "store.sqlite"))
    yield s
    s.flush()


def _without_now(state):
    state = json.loads(json.dumps(state))
    state["header"].pop("now", None)
    return state


def _fresh_state(store, pid):
    return RunDetailsModel(store, pid).state()


# -- rows and curves --------------------------------------------------------------------------
def test_rows_hold_status_params_best_last_intervals_and_stop_reason(store):
    pid = _parent(store)
    a, b = _child(store, pid, 0), _child(store, pid, 1)
    _log(store, a, [0.5, 0.7, 0.6])
    _log(store, b, [0.4, 0.45])
    _log(store, a, [1.0, 2.0], name="loss")
    store.update_run(b, status="Canceled", ended=time.time(), details={"stop": {
        "policy": "BanditPolicy", "interval": 2, "value": 0.45, "threshold": 0.6, "reason": "BanditPolicy: below"}})
    store.flush()
    state = _fresh_state(store, pid)
    ra, rb = state["runs"][a], state["runs"][b]
    assert state["order"] == [a, b]
    assert (ra["status"], ra["best"], ra["last"], ra["intervals"]) == ("Running", 0.7, 0.6, 3)
    assert ra["params"] == {"lr": 0.01, "batch_size": 32, "optimizer": "adam", "dropout": 0.0}
    assert (rb["status"], rb["stopped_early"], rb["stop_reason"]) == ("Canceled", True, "BanditPolicy: below")
    assert state["series"][a] == {"accuracy": [0.5, 0.7, 0.6], "loss": [1.0, 2.0]}
    assert [c["id"] for c in curves(state)] == [a, b]
    assert curves(state)[0] == {"id": a, "x": [1, 2, 3], "y": [0.5, 0.7, 0.6]}
    assert [c["id"] for c in curves(state, "loss")] == [a]


def test_header_has_progress_best_run_early_stops_and_compute_saved(store):
    pid = _parent(store, warning="max_total_runs 10 is more than the 6 configurations of the space")
    a, b = _child(store, pid, 0, status="Completed"), _child(store, pid, 1)
    _log(store, a, [0.1 * i for i in range(1, 9)])  # 8 intervals, best 0.8
    _log(store, b, [0.05, 0.06])
    store.update_run(b, status="Canceled", details={"stop": {"policy": "MedianStoppingPolicy", "reason": "median"}})
    store.flush()
    head = RunDetailsModel(store, pid).header()
    assert head["runs"] == 2 and head["finished"] == 2 and head["total"] == 10
    assert head["best_run"] == a and head["best"] == pytest.approx(0.8)
    assert head["stopped_early"] == 1 and head["longest"] == 8
    assert head["saved_intervals"] == 6  # b would have run 8 intervals, ran 2
    assert head["saved_fraction"] == pytest.approx(6 / (10 + 6))
    assert "6 configurations" in head["warning"]


def test_minimize_goal_picks_the_lowest_value_and_nan_never_wins(store):
    pid = _parent(store, goal="minimize")
    a, b = _child(store, pid, 0), _child(store, pid, 1)
    _log(store, a, [0.3, math.nan, 0.2])
    _log(store, b, [math.nan])
    store.flush()
    state = _fresh_state(store, pid)
    assert state["runs"][a]["best"] == 0.2 and state["runs"][b]["best"] is None
    assert state["series"][a]["accuracy"] == [0.3, None, 0.2]  # NaN travels as null
    assert state["header"]["best_run"] == a
    json.dumps(RunDetailsModel(store, pid).snapshot(), allow_nan=False)  # strict JSON


def test_axes_know_log_and_categorical_expressions():
    axes = {a["name"]: a for a in param_axes(SPACE)}
    assert axes["lr"]["log"] and not axes["lr"]["categorical"]
    assert axes["batch_size"]["categorical"] and axes["batch_size"]["values"] == [16, 32, 64]
    assert axes["optimizer"]["values"] == ["sgd", "adam"]
    assert not axes["dropout"]["log"] and not axes["dropout"]["categorical"]
    assert param_axes({"x": "mystery(1)"})[0]["kind"] is None  # unknown: a plain axis


# -- incremental messages ----------------------------------------------------------------------
def test_one_new_metric_value_is_a_small_update_with_only_that_point(store):
    pid = _parent(store)
    rids = [_child(store, pid, n) for n in range(50)]
    for rid in rids:
        _log(store, rid, [0.01 * i for i in range(40)])
    store.flush()
    model = RunDetailsModel(store, pid)
    assert model.poll() is None  # nothing new
    _log(store, rids[7], [0.99], start=40)
    store.flush()
    msg = model.poll()
    size = len(json.dumps(msg, allow_nan=False))
    assert size < 2048, size
    assert msg["points"] == [[rids[7], "accuracy", 40, [0.99]]]
    assert [r["id"] for r in msg["runs"]] == [rids[7]] and msg["runs"][0]["best"] == 0.99
    assert len(json.dumps(model.snapshot())) > 20 * size


def test_snapshot_plus_updates_equals_a_later_snapshot(store):
    pid = _parent(store)
    model = RunDetailsModel(store, pid)
    view = apply_message({}, model.snapshot())
    steps = 0
    for n in range(4):
        rid = _child(store, pid, n)
        for k in range(3):
            _log(store, rid, [0.1 * k + n], start=k)
            _log(store, rid, [1.0 / (k + 1)], name="loss", start=k)
            store.flush()
            msg = model.poll()
            apply_message(view, json.loads(json.dumps(msg)))
            steps += 1
        store.update_run(rid, status="Completed", ended=time.time())
    store.update_run(pid, status="Completed", ended=time.time())
    store.flush()
    apply_message(view, model.poll())
    assert model.terminal
    assert _without_now(view) == _without_now(model.state())
    assert _without_now(view) == _without_now(_fresh_state(store, pid))  # a late view catches up
    assert steps == 12


def test_unknown_messages_leave_the_state_alone():
    state = {"order": [], "runs": {}, "series": {}}
    assert apply_message(state, {"type": "ping"}) == {"order": [], "runs": {}, "series": {}}


# -- the widget: poller, throttling, buttons, static views -------------------------------------
class _Sent(list):
    def __call__(self, content, buffers=None):
        self.append((time.monotonic(), json.loads(json.dumps(content, allow_nan=False))))


def test_poller_sends_at_most_4_updates_a_second_and_stops_when_the_experiment_ends(store):
    pid = _parent(store)
    rid = _child(store, pid, 0)
    store.flush()
    widget = RunDetails(HyperDriveRun(store, pid))
    sent = widget.send = _Sent()
    view = apply_message({}, widget.model.snapshot())
    stop = time.monotonic() + 1.6
    k = 0
    while time.monotonic() < stop:  # a value every 10 ms
        _log(store, rid, [k / 1000], start=k)
        store.flush()
        k += 1
        time.sleep(0.01)
    store.update_run(rid, status="Completed", ended=time.time())
    store.update_run(pid, status="Completed", ended=time.time())
    store.flush()
    deadline = time.monotonic() + 5
    while widget.polling and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not widget.polling
    times = [t for t, _ in sent]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(sent) >= 3 and min(gaps) >= 0.2, gaps  # at most 4 a second (+ timer jitter)
    for _, msg in sent:
        apply_message(view, msg)
    assert len(view["series"][rid]["accuracy"]) == k
    assert _without_now(view) == _without_now(widget.state())
    assert widget.status == "Completed"


def test_the_full_state_travels_in_synced_state_and_a_view_asking_again_gets_it_there(store):
    pid = _parent(store, status="Completed")
    rid = _child(store, pid, 0, status="Completed")
    _log(store, rid, [0.1, 0.2])
    store.flush()
    widget = RunDetails(HyperDriveRun(store, pid))
    assert not widget.polling  # ended already: nothing to follow
    state = widget.get_state()  # what the comm carries when the widget is created
    assert state["_snapshot"]["type"] == "snapshot" and state["_snapshot"]["seq"] == widget.model.seq
    assert apply_message({}, state["_snapshot"])["series"][rid]["accuracy"] == [0.1, 0.2]
    assert set(state) >= {"_snapshot", "_rest", "height", "selected_run"}
    assert not {"run_id", "experiment", "status"} & set(state)  # not read by the front end: not synced
    assert state["_rest"]["run"] == pid and len(state["_rest"]["workspace"]) == 16
    sent = widget.send = _Sent()
    widget._snapshot = {}
    widget._on_front_end_msg(widget, {"type": "snapshot"}, [])  # a view that missed an update
    assert sent == [] and widget._snapshot["seq"] == widget.model.seq
    assert apply_message({}, widget._snapshot)["series"][rid]["accuracy"] == [0.1, 0.2]


def test_updates_are_numbered_after_the_snapshot(store):
    pid = _parent(store)
    rid = _child(store, pid, 0)
    store.flush()
    model = RunDetailsModel(store, pid)
    first = model.snapshot()["seq"]
    _log(store, rid, [0.5])
    store.flush()
    one = model.poll()
    assert model.poll() is None  # nothing new: no number used
    _log(store, rid, [0.6], start=1)
    store.flush()
    two = model.poll()
    assert (one["seq"], two["seq"]) == (first + 1, first + 2) and model.snapshot()["seq"] == first + 2


def test_selected_run_and_height_are_checked(store):
    pid = _parent(store, status="Completed")
    rid = _child(store, pid, 0, status="Completed")
    store.flush()
    widget = RunDetails(HyperDriveRun(store, pid))
    assert widget.selected_run is None
    widget.selected_run = rid
    assert widget.get_state()["selected_run"] == rid
    with pytest.raises(Exception, match="selected_run must be a run of HD_test or None, got 'nope'"):
        widget.selected_run = "nope"
    with pytest.raises(Exception, match="height must be 120..2000 pixels, got 5"):
        widget.height = 5


def test_rest_target_names_the_workspace_as_the_server_does(tmp_path):
    from hdnotebook.server.workspaces import WorkspaceFinder

    ws = Workspace(tmp_path / "ws")
    pid = _parent(ws.store)
    ws.store.flush()
    widget = RunDetails(HyperDriveRun(ws.store, pid))
    assert [w.id for w in WorkspaceFinder(str(tmp_path)).list()] == [widget.get_state()["_rest"]["workspace"]]


def test_mimebundle_has_the_widget_view_static_html_and_plain_text(store):
    pid = _parent(store, status="Completed")
    rids = [_child(store, pid, n, status="Completed") for n in range(12)]
    for rid in rids:
        _log(store, rid, [0.1, 0.3, 0.2])
    store.flush()
    data, _meta = RunDetails(HyperDriveRun(store, pid))._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert all(rid in html for rid in rids)
    assert "<svg" in html and "<script" not in html and "http" not in html  # no CDN, no scripts
    assert "best accuracy = 0.3" in data["text/plain"]
    state = RunDetailsModel(store, pid).state()
    assert static_html(state) == html and static_text(state) == data["text/plain"]


def _train(lr, bs, sleep=0.0):
    run = Run.get_context()
    for epoch in range(4):
        run.log("accuracy", 1 - lr * (4 - epoch) / bs)
        run.log("loss", lr * (4 - epoch))
        time.sleep(sleep)


def test_live_experiment_updates_rebuild_the_final_state_and_reopen_after_restart(tmp_path):
    ws = Workspace(tmp_path / "ws")
    config = HyperDriveConfig(
        estimator=_train, policy=NoTerminationPolicy(), primary_metric_name="accuracy",
        primary_metric_goal="maximize", max_total_runs=4, max_concurrent_runs=2,
        hyperparameter_sampling=RandomParameterSampling({"lr": loguniform(-4, -1), "bs": choice(1, 2)}, seed=1))
    run = Experiment(ws, "live").submit(config)
    widget = RunDetails(run)
    sent = widget.send = _Sent()
    view = apply_message({}, widget.model.snapshot())
    run.wait_for_completion()
    deadline = time.monotonic() + 5
    while widget.polling and time.monotonic() < deadline:
        time.sleep(0.05)
    for _, msg in sent:
        apply_message(view, msg)
    final = widget.state()
    assert _without_now(view) == _without_now(final)
    assert len(final["order"]) == 4 and {r["status"] for r in final["runs"].values()} == {"Completed"}
    assert len(curves(final)) == 4 and all(len(c["y"]) == 4 for c in curves(final))
    assert final["header"]["best_run"] == run.get_best_run_by_primary_metric().id

    # a new process (a restarted kernel) reopens the experiment and shows the same runs
    code = (
        "from hdnotebook import Workspace, Experiment, RunDetails\n"
        f"run = Experiment(Workspace({str(tmp_path / 'ws')!r}), 'live').get_runs()[0]\n"
        "w = RunDetails(run)\n"
        "data, _ = w._repr_mimebundle_()\n"
        "print(w.polling, len(w.state()['order']), data['text/plain'].splitlines()[1].strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() [:2] == ["False", "4"] and "4/4 runs finished" in out.stdout


def test_buttons_cancel_the_selected_run_and_the_experiment(tmp_path):
    config = HyperDriveConfig(
        estimator=_train, policy=NoTerminationPolicy(), primary_metric_name="accuracy",
        primary_metric_goal="maximize", max_total_runs=6, max_concurrent_runs=2,
        hyperparameter_sampling=RandomParameterSampling({"lr": uniform(0.1, 1), "bs": choice(1, 2),
                                                         "sleep": choice(1.0)}, seed=1))
    run = Experiment(Workspace(tmp_path / "ws"), "cancel").submit(config)
    widget = RunDetails(run)
    widget.send = _Sent()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = [c for c in run.get_children() if c.get_status() == "Running"]
        if running:
            break
        time.sleep(0.1)
    target = running[0].id
    widget._on_front_end_msg(widget, {"type": "cancel_run", "run_id": "not-a-run"}, [])  # ignored
    widget._on_front_end_msg(widget, {"type": "cancel_run", "run_id": target}, [])
    widget._on_front_end_msg(widget, {"type": "cancel_experiment"}, [])
    run.wait_for_completion()
    statuses = {c.id: c.get_status() for c in run.get_children()}
    assert statuses[target] == "Canceled"
    assert run.get_status() == "Canceled"
    assert sum(s == "Completed" for s in statuses.values()) < 6
