"""Trials on a real dask.distributed cluster (two worker processes) through joblib's dask backend."""

from __future__ import annotations

import importlib
import os
import signal
import socket
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402

from hdnotebook import (  # noqa: E402
    BanditPolicy,
    Experiment,
    GridParameterSampling,
    HyperDriveConfig,
    NoTerminationPolicy,
    Run,
    Workspace,
    choice,
)
from hdnotebook.channel import ChannelClient, ChannelServer  # noqa: E402
from hdnotebook.engine.dask import channel_host, is_local_address  # noqa: E402

STEPS = 12


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    with distributed.Client(cluster) as c:
        c.run(importlib.import_module, "hdnotebook.engine.trial")  # warm: both workers start alike
        yield c
    cluster.close()


def _grid_config(fn, values, name="quality", **kw):
    kw.setdefault("policy", NoTerminationPolicy())
    return HyperDriveConfig(
        estimator=fn,
        hyperparameter_sampling=GridParameterSampling({name: choice(*values)}),
        primary_metric_name="score",
        primary_metric_goal="maximize",
        **kw,
    )


def curve(quality):
    """A deterministic learning curve: ``quality`` at every step; the pid shows where it ran.

    The good curve runs faster, so it is ahead at every interval the policy judges even when its
    trial starts a little later than the bad one's.
    """
    run = Run.get_context()
    run.log("pid", os.getpid())
    for i in range(STEPS):
        run.log("i", i)
        run.log("score", quality)
        time.sleep(0.05 if quality >= 0.5 else 0.25)


def test_trials_run_on_the_workers_stream_live_and_the_bad_one_is_stopped(tmp_path, client):
    worker_pids = set(client.run(os.getpid).values())
    config = _grid_config(
        curve, [1.0, 0.1], policy=BanditPolicy(slack_amount=0.2, evaluation_interval=1, delay_evaluation=2)
    )
    with joblib.parallel_config(backend="dask"):
        run = Experiment(Workspace(tmp_path / "ws"), "dask").submit(config)
    assert run._controller.concurrency == 2  # two workers, one thread each
    assert run._controller.channel.address[0] == "127.0.0.1"  # a LocalCluster: loopback only

    live = []  # (run id, values) seen in the store while that run was still Running
    while run.get_status() == "Running":
        for child in run.get_children():
            values = child.get_metrics().get("i")
            if values and child.get_status() == "Running":
                live.append((child.id, values))
        time.sleep(0.02)
    run.wait_for_completion()
    assert live, "no value reached the store while its trial was running"

    by_quality = {c.get_details()["parameters"]["quality"]: c for c in run.get_children()}
    good, bad = by_quality[1.0], by_quality[0.1]
    assert good.get_status() == "Completed"
    assert bad.get_status() == "Canceled"
    assert "BanditPolicy" in bad.get_details()["stopReason"]
    for child in (good, bad):
        metrics = child.get_metrics()
        assert int(metrics["pid"]) in worker_pids  # ran in a dask worker process, not here
        assert int(metrics["pid"]) != os.getpid()
    good_metrics, bad_metrics = good.get_metrics(), bad.get_metrics()
    # every value each trial logged is stored; the stopped one ends at the interval it was judged
    assert good_metrics["i"] == list(range(STEPS)) and good_metrics["score"] == [1.0] * STEPS
    stopped_at = len(bad_metrics["score"])
    assert 2 <= stopped_at < STEPS  # delay_evaluation=2: judged from interval 2 on
    assert bad_metrics["i"] == list(range(stopped_at))
    assert run.get_status() == "Completed"


def fragile(mode, flag_dir):
    run = Run.get_context()
    for i in range(3):
        run.log("i", i)
    time.sleep(0.3)  # the buffered values reach the driver (they are sent every 50 ms)
    flag = os.path.join(flag_dir, "killed-once")
    if mode == "die" or (mode == "die-once" and not os.path.exists(flag)):
        open(flag, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)  # takes the dask worker process down with it
    time.sleep(0.5)
    run.log("score", 1.0)


@pytest.mark.parametrize("mode,max_retries", [("die", 0), ("die-once", 1)])
def test_a_worker_killed_mid_trial_fails_or_retries_that_trial_and_the_experiment_goes_on(
    tmp_path, client, mode, max_retries
):
    def train(mode):
        return fragile(mode, str(tmp_path))

    config = _grid_config(train, ["ok1", mode, "ok2", "ok3"], name="mode", max_retries=max_retries)
    run = Experiment(Workspace(tmp_path / "ws"), "dask").submit(config, backend="dask")
    run.wait_for_completion()
    assert os.path.exists(tmp_path / "killed-once")
    children = run.get_children()
    counted = {c.get_details()["parameters"]["mode"]: c for c in children
               if not c.get_details()["properties"].get("superseded_by")}
    assert len(counted) == 4
    for name in ("ok1", "ok2", "ok3"):
        assert counted[name].get_status() == "Completed"
        assert counted[name].get_metrics() == {"i": [0, 1, 2], "score": 1.0}
    if max_retries == 0:
        assert len(children) == 4
        lost = counted[mode].get_details()
        assert lost["status"] == "Failed"
        assert lost["properties"]["outcome"] == "worker_lost"
        assert "worker lost" in lost["error"]["message"]
        assert counted[mode].get_metrics() == {"i": [0, 1, 2]}  # what it logged before it died
    else:
        # the retry is a run of its own, linked both ways to the attempt it replaces
        assert len(children) == 5
        retry = counted[mode]
        first = next(c for c in children if c.id == retry.get_details()["properties"]["rerun_of"])
        assert first.get_details()["properties"]["superseded_by"] == retry.id
        assert first.get_status() == "Failed" and first.get_metrics() == {"i": [0, 1, 2]}
        assert retry.get_status() == "Completed"
        assert retry.get_details()["properties"]["attempts"] == 2
        assert retry.get_metrics() == {"i": [0, 1, 2], "score": 1.0}  # its own clean curve
        kinds = [kind for _, _, kind, _, _ in run.store.events([first.id])]
        assert "retry" in kinds
    assert run.get_status() == "Completed"


def test_gpu_trials_ask_dask_for_the_gpu_resource_and_never_overbook(tmp_path):
    # one worker with three threads but two GPUs: the GPU resource, not the threads, bounds trials
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=3, processes=False, resources={"GPU": 2}, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster, set_as_default=False) as gpu_client:

        def spans(x):
            run = Run.get_context()
            run.log("start", time.time())
            time.sleep(0.4)
            run.log("end", time.time())

        config = _grid_config(spans, [1, 2, 3, 4, 5], name="x", gpus_per_trial=1)
        with joblib.parallel_config(backend="dask", client=gpu_client):
            run = Experiment(Workspace(tmp_path / "ws"), "gpu").submit(config)
        assert run._controller.concurrency == 2
        assert run._controller.dispatcher.dask.submit_kwargs["resources"] == {"GPU": 1}
        run.wait_for_completion()
        got = [(c.get_metrics()["start"], c.get_metrics()["end"]) for c in run.get_children()]
        assert len(got) == 5
        assert max(sum(1 for s, e in got if s <= start < e) for start, _ in got) == 2


def test_gpu_trials_on_workers_without_the_gpu_resource_are_a_clear_error(tmp_path, client):
    config = _grid_config(curve, [1.0], gpus_per_trial=1)
    with pytest.raises(ValueError, match="resources=\\{'GPU': n\\}"):
        Experiment(Workspace(tmp_path / "ws"), "dask").submit(config, backend="dask")


class _FakeClient:
    def __init__(self, scheduler, workers):
        self.scheduler = type("S", (), {"address": scheduler})()
        self._workers = workers

    def scheduler_info(self, n_workers=-1):
        return {"workers": {w: {} for w in self._workers}}


def _this_machines_address():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent
            ip = probe.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_channel_listens_on_loopback_for_a_local_cluster_and_on_the_reachable_interface_otherwise():
    assert is_local_address("tcp://127.0.0.1:8786") and is_local_address("inproc://10.0.0.1/1/2")
    assert not is_local_address("tcp://10.0.0.5:8786")
    local = _FakeClient("tcp://127.0.0.1:8786", ["tcp://127.0.0.1:40001", "tcp://localhost:40002"])
    assert channel_host(local) == "127.0.0.1"
    ip = _this_machines_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    remote = _FakeClient(f"tcp://{ip}:8786", [f"tcp://{ip}:40001"])
    host = channel_host(remote)
    assert host == ip
    # the channel there still refuses anyone without the key
    server = ChannelServer(lambda message: ("ok", message[1]), host=host)
    try:
        assert server.address[0] == ip
        assert ChannelClient(server.address, server.authkey).request(("poll", "r", None)) == ("ok", "r")
        with pytest.raises(Exception):
            ChannelClient(server.address, b"wrong key" * 4).request(("poll", "r", None))
    finally:
        server.close()


def test_a_cluster_on_a_network_address_gets_a_channel_there_and_its_metrics_arrive(tmp_path):
    ip = _this_machines_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host=ip, dashboard_address=":0", silence_logs=40
    ) as cluster, distributed.Client(cluster, set_as_default=False) as net_client:
        config = _grid_config(curve, [1.0, 0.9])
        with joblib.parallel_config(backend="dask", client=net_client):
            run = Experiment(Workspace(tmp_path / "ws"), "net").submit(config)
        assert run._controller.channel.address[0] == ip  # not 127.0.0.1, not 0.0.0.0
        run.wait_for_completion()
        for child in run.get_children():
            assert child.get_status() == "Completed"
            assert child.get_metrics()["i"] == list(range(STEPS))
