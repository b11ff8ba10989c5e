"""The fault suite (SPEC §11): real processes, real SQLite, each case bounded in time and counted.

A "kernel" here is a Python subprocess that drives an experiment, as a notebook kernel would. Trials
write what the driver acknowledged (their ``run.flush()`` returned) to small files, so the test
can compare values acknowledged with values stored after the kernel is killed, exits, or the disk
fills up; processes left behind are counted from the pids the trials wrote.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hdnotebook import channel as channel_module
from hdnotebook.channel import ChannelClient, ChannelServer, trial_key
from hdnotebook.store import StoreError

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process containment is Linux-only")

#: the trial every kernel below runs: logs n values of "loss", acknowledging every 500
TRIAL = '''
import os, time
from hdnotebook import Run

def train(i, n, ackdir):
    run = Run.get_context()
    with open(os.path.join(ackdir, f"pid-{run.id}"), "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    k = 0
    while n < 0 or k < n:
        run.log("loss", float(k))
        k += 1
        if k % 500 == 0:
            run.flush()
            with open(os.path.join(ackdir, f"ack-{run.id}"), "a") as f:
                f.write(f"{k}\\n")
            if n < 0:
                time.sleep(0.01)
    run.flush()
    with open(os.path.join(ackdir, f"done-{run.id}"), "w") as f:
        f.write(str(k))
'''


def _kernel(tmp_path: Path, body: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``body`` (after the trial's definition) as a kernel process; returns it when it ends."""
    script = tmp_path / "kernel.py"
    script.write_text(TRIAL + textwrap.dedent(body))
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", **(env or {})}
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=timeout)


def _submit_code(trials: str, concurrency: int = 2) -> str:
    return f'''
import os, sys, time
from hdnotebook import (Experiment, GridParameterSampling, HyperDriveConfig, NoTerminationPolicy, Workspace, choice)
ackdir = os.path.abspath("acks")
os.makedirs(ackdir, exist_ok=True)
sizes = {trials}
def trial(i):
    train(i, sizes[i], ackdir)
config = HyperDriveConfig(
    estimator=trial,
    hyperparameter_sampling=GridParameterSampling({{"i": choice(*range(len(sizes)))}}),
    policy=NoTerminationPolicy(), primary_metric_name="loss", primary_metric_goal="minimize",
    max_total_runs=len(sizes), max_concurrent_runs={concurrency})
run = Experiment(Workspace("ws"), "faults").submit(config)
deadline = time.time() + 90
def done(): return {{f for f in os.listdir(ackdir) if f.startswith("done-")}}
def acked(): return {{f for f in os.listdir(ackdir) if f.startswith("ack-")}}
'''


def _table(case: str, acknowledged: object, stored: object, left: object, recover: object) -> None:
    """One row of the closing table (written when HDNOTEBOOK_FAULT_TABLE names a file)."""
    path = os.environ.get("HDNOTEBOOK_FAULT_TABLE")
    if path:
        with open(path, "a") as f:
            f.write(f"| {case} | {acknowledged} | {stored} | {left} | {recover} |\n")


def _acks(ackdir: Path) -> dict[str, int]:
    out = {}
    for f in ackdir.glob("ack-*"):
        lines = f.read_text().split()
        out[f.name[4:]] = int(lines[-1]) if lines else 0
    return out


def _stored(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT run_id, COUNT(*) FROM metrics WHERE name='loss' GROUP BY run_id"))
    finally:
        conn.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _left_running(pids: set[int], within: float = 10.0) -> set[int]:
    end = time.time() + within
    while time.time() < end:
        alive = {p for p in pids if _alive(p)}
        if not alive:
            return set()
        time.sleep(0.1)
    return alive


def _trial_pids(ackdir: Path) -> set[int]:
    pids = set()
    for f in ackdir.glob("pid-*"):
        pids.update(int(p) for p in f.read_text().split())
    return pids


# ---------------------------------------------------------------------------------------------
# the kernel dies: nothing acknowledged is lost, nothing keeps running
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_of_the_kernel_loses_nothing_acknowledged_and_leaves_no_process(tmp_path):
    """4 trials finish (20,000 values each), 2 are logging when the kernel SIGKILLs itself."""
    proc = _kernel(tmp_path, _submit_code("[20000, 20000, 20000, 20000, -1, -1]") + '''
while time.time() < deadline:
    finished, logging = done(), acked() - {"ack-" + f[5:] for f in done()}
    if len(finished) >= 4 and len(logging) >= 2:
        os.kill(os.getpid(), 9)
    time.sleep(0.02)
sys.exit(3)
''')
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    ackdir, db = tmp_path / "acks", tmp_path / "ws" / "hdnotebook.sqlite"
    acks, stored = _acks(ackdir), _stored(db)
    finished = {f.name[5:] for f in ackdir.glob("done-*")}
    assert len(finished) >= 4 and len(acks) >= 6
    for run_id, acked in acks.items():
        assert stored.get(run_id, 0) >= acked, (run_id, acked, stored.get(run_id))
    for run_id in finished:
        assert stored[run_id] == 20000
    killed = time.monotonic()
    left = _left_running(_trial_pids(ackdir))
    assert not left, f"trial hosts or workers still running after the kernel died: {left}"
    # reopened: the finished trials are Completed, the live ones marked interrupted
    from hdnotebook import Experiment, Workspace

    (parent,) = Experiment(Workspace(str(tmp_path / "ws")), "faults").get_runs()
    _table("SIGKILL of the kernel, 4 trials done + 2 logging", sum(acks.values()),
           sum(stored.get(r, 0) for r in acks), f"0 of {len(_trial_pids(ackdir))}",
           f"{time.monotonic() - killed:.1f} s (trial processes gone, experiment reopened)")
    statuses = {c.id: c.get_status() for c in parent.get_children()}
    assert all(statuses[r] == "Completed" for r in finished), statuses
    assert "Running" not in statuses.values() and parent.get_status() == "Failed"


@pytest.mark.slow
def test_clean_exit_right_after_the_work_keeps_every_value_in_the_file_alone(tmp_path):
    proc = _kernel(tmp_path, _submit_code("[20000, 20000, 20000, 20000]") + '''
while time.time() < deadline and len(done()) < 4:
    time.sleep(0.01)
sys.exit(0 if len(done()) == 4 else 3)
''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = tmp_path / "ws" / "hdnotebook.sqlite"
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(db, copy)  # the main file alone: the WAL was checkpointed at exit
    acks, stored = _acks(tmp_path / "acks"), _stored(copy)
    assert len(acks) == 4 and all(v == 20000 for v in acks.values())
    assert stored == {run_id: 20000 for run_id in acks}
    conn = sqlite3.connect(copy)
    statuses = dict(conn.execute("SELECT id, status FROM runs WHERE parent_id IS NOT NULL"))
    assert sorted(statuses.values()) == ["Completed"] * 4
    assert conn.execute("SELECT status FROM runs WHERE parent_id IS NULL").fetchone()[0] != "Running"
    assert not _left_running(_trial_pids(tmp_path / "acks"))
    _table("clean sys.exit(0) right after the work (file copied without -wal)", sum(acks.values()),
           sum(stored.values()), f"0 of {len(_trial_pids(tmp_path / 'acks'))}", "-")


# ---------------------------------------------------------------------------------------------
# bad values and storage faults fail only themselves
# ---------------------------------------------------------------------------------------------
def surrogate_trial(i):
    from hdnotebook import Run

    run = Run.get_context()
    for k in range(200):
        run.log("loss", float(k))
    if i == 1:
        run.log("file_\udcff", 1.0)  # as os.fsdecode makes from a non-UTF-8 file name
    run.log("after", 1.0)


def test_a_lone_surrogate_fails_only_its_own_trial_with_a_clear_message(tmp_path):
    from hdnotebook import Experiment, GridParameterSampling, HyperDriveConfig, NoTerminationPolicy, Workspace, choice

    config = HyperDriveConfig(
        estimator=surrogate_trial, hyperparameter_sampling=GridParameterSampling({"i": choice(0, 1, 2, 3)}),
        policy=NoTerminationPolicy(), primary_metric_name="loss", primary_metric_goal="minimize",
        max_total_runs=4, max_concurrent_runs=2,
    )
    ws = Workspace(str(tmp_path / "ws"))
    run = Experiment(ws, "surrogates").submit(config)
    run.wait_for_completion()
    children = sorted(run.get_children(), key=lambda c: c.get_details()["parameters"]["i"])
    assert [c.get_status() for c in children] == ["Completed", "Failed", "Completed", "Completed"]
    message = children[1].get_details()["error"]["message"]
    assert "surrogate" in message and "file_" in message
    counts = [len(c.get_metrics().get("loss", [])) for c in children]
    assert counts == [200, 200, 200, 200]
    assert [("after" in c.get_metrics()) for c in children] == [True, False, True, True]
    assert run.get_status() == "Completed" and len(Experiment(ws, "surrogates").get_runs()) == 1
    _table("lone surrogate in a metric name (1 of 4 trials)", "800 (+ 1 refused at log)", sum(counts), 0,
           "0 (only that trial Failed)")


@pytest.mark.slow
def test_a_full_disk_says_why_and_where_and_the_writer_recovers_when_there_is_room(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: SQLite gets EFBIG past it (SIGXFSZ ignored)."""
    proc = _kernel(tmp_path, _submit_code("[6000, 6000, 6000]") + '''
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, hard))   # the store's files stop growing here
store = run.store
while time.time() < deadline and store.fault is None:
    time.sleep(0.01)
time.sleep(1.2)
try:
    run.get_status()
    seen = "no error"
except Exception as exc:
    seen = f"{type(exc).__name__}: {exc}"
with open("seen.txt", "w") as f:
    f.write(seen)
freed = time.time()
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))         # space is back
while store.fault is not None and time.time() < deadline:
    time.sleep(0.01)
with open("recovered.txt", "w") as f:
    f.write(str(time.time() - freed))
run.wait_for_completion()
''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = (tmp_path / "seen.txt").read_text()
    db = tmp_path / "ws" / "hdnotebook.sqlite"
    assert seen.startswith("StoreError") and str(db) in seen and "free space" in seen, seen
    assert "full" in seen or "too large" in seen.lower(), seen
    recovered = float((tmp_path / "recovered.txt").read_text())
    assert recovered < 10
    acks, stored = _acks(tmp_path / "acks"), _stored(db)
    assert all(stored.get(r, 0) >= a for r, a in acks.items())
    assert sorted(stored.values()) == [6000, 6000, 6000]  # nothing lost: all committed after the fault
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert sorted(s for (s,) in conn.execute("SELECT status FROM runs WHERE parent_id IS NOT NULL")) == ["Completed"] * 3
    _table("full disk (RLIMIT_FSIZE 300 kB) then room again", sum(acks.values()), sum(stored.values()),
           f"0 of {len(_trial_pids(tmp_path / 'acks'))}", f"{recovered:.2f} s after room came back")


def test_a_corrupt_store_names_the_file_and_what_to_do_and_works_once_moved_aside(tmp_path):
    from hdnotebook import Experiment, Workspace

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hdnotebook.sqlite").write_bytes(b"\x00garbage" * 2000)
    with pytest.raises(StoreError) as info:
        Experiment(Workspace(str(ws)), "x").get_runs()
    assert str(ws / "hdnotebook.sqlite") in str(info.value) and "move it aside" in str(info.value)
    start = time.monotonic()
    (ws / "hdnotebook.sqlite").rename(ws / "broken.sqlite")
    assert Experiment(Workspace(str(ws)), "x").get_runs() == []
    _table("corrupt store file", 0, 0, 0, f"{time.monotonic() - start:.2f} s after moving it aside")


def _can_mount_read_only() -> bool:
    if not shutil.which("unshare"):
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as probe_dir:
        script = f"mount --bind {probe_dir} {probe_dir} && mount -o remount,bind,ro {probe_dir} && ! touch {probe_dir}/x"
        probe = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_read_only(), reason="needs unshare -Urm and a bind mount to make read-only media")
def test_a_checkpointed_workspace_reads_from_read_only_media(tmp_path):
    proc = _kernel(tmp_path, _submit_code("[3000, 3000]") + "run.wait_for_completion()\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ws = tmp_path / "ws"
    assert not (ws / "hdnotebook.sqlite-wal").exists()
    reader = tmp_path / "reader.py"
    reader.write_text(textwrap.dedent('''
        import sys
        from hdnotebook import Experiment, Workspace
        (parent,) = Experiment(Workspace(sys.argv[1]), "faults").get_runs()
        print(parent.get_status(), sum(len(c.get_metrics()["loss"]) for c in parent.get_children()))
        try:
            parent.cancel()
        except Exception as exc:
            print(type(exc).__name__, "read-only" in str(exc))
    '''))
    script = f"mount --bind {ws} {ws} && mount -o remount,bind,ro {ws} && {sys.executable} {reader} {ws}"
    out = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["Completed", "6000", "StoreError", "True"], out.stderr[-3000:]
    assert not (ws / "hdnotebook.sqlite-wal").exists()
    _table("checkpointed workspace on read-only media", 6000, "6000 read back", 0, "- (writes: StoreError)")


# ---------------------------------------------------------------------------------------------
# the channel
# ---------------------------------------------------------------------------------------------
def test_32_clients_at_once_and_an_idle_connection_hold_up_nobody(monkeypatch):
    monkeypatch.setattr(channel_module, "HANDSHAKE_SECONDS", 1.0)
    served = []
    server = ChannelServer(lambda m: served.append(m[1]) or ("ok", m[1]))
    idle = socket.create_connection(server.address)  # connects, never speaks
    try:
        results: list[object] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            client = ChannelClient(server.address, server.authkey)
            try:
                reply = client.request(("poll", f"r{i}", None))
            except Exception as exc:  # noqa: BLE001 - counted below
                reply = exc
            finally:
                client.close()
            with lock:
                results.append(reply)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results, key=str) == sorted((("ok", f"r{i}") for i in range(32)), key=str)
        assert time.monotonic() - start < 20
        took = time.monotonic() - start
        time.sleep(1.5)  # the idle connection was dropped after its handshake time
        idle.settimeout(2)
        assert idle.recv(1) == b""
        _table("32 channel clients at once + 1 idle connection", "32 requests", "32 replies", 0,
               f"{took:.2f} s for all 32; idle one dropped after 1 s")
    finally:
        idle.close()
        server.close()


def test_the_channel_carries_data_never_code_and_a_trial_key_reaches_only_its_run(tmp_path):
    seen = []
    server = ChannelServer(lambda m: seen.append(m) or ("ok", None))
    try:
        with pytest.raises(ConnectionError):
            ChannelClient(server.address, b"wrong key" * 4).request(("poll", "r", None))
        # a peer with the key sends a pickle that would create a file: refused, never run
        marker = tmp_path / "pwned"
        evil = channel_module.msgpack.ExtType(3, __import__("pickle").dumps(_Touch(str(marker))))
        client = ChannelClient(server.address, server.authkey)
        with pytest.raises(ConnectionError):
            client.request(("log", "r", evil, True))
        assert not marker.exists() and seen == []
        scoped = ChannelClient(server.address, trial_key(server.authkey, "HD_1_0"), run_id="HD_1_0")
        assert scoped.request(("log", "HD_1_0", [], True)) == ("ok", None)
        refused = scoped.request(("log", "HD_1_1", [], True))
        assert refused[0] == "error" and "HD_1_0" in refused[1]
        assert scoped.request(("next", 0, None, {}))[0] == "error"
        assert [m[1] for m in seen] == ["HD_1_0"]
    finally:
        server.close()


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ---------------------------------------------------------------------------------------------
# containment
# ---------------------------------------------------------------------------------------------
def stubborn_trial(pidfile, mode):
    import os
    import subprocess
    import sys
    import time

    from hdnotebook import Run

    code = ("import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "open(sys.argv[1], 'a').write(str(os.getpid()) + '\\n'); time.sleep(600)")
    subprocess.Popen([sys.executable, "-c", code, pidfile])
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        time.sleep(0.05)
    run = Run.get_context()
    if mode == "wait":
        for k in range(6000):
            run.log("loss", float(k))
            time.sleep(0.05)
    run.log("loss", 1.0)


def _pids(path: Path) -> set[int]:
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


@pytest.mark.slow
def test_a_grandchild_ignoring_sigterm_dies_with_its_trial(tmp_path):
    """One trial is canceled while its child ignores SIGTERM; one completes leaving its child behind."""
    from hdnotebook import Experiment, GridParameterSampling, HyperDriveConfig, NoTerminationPolicy, Workspace, choice

    pidfiles = {m: str(tmp_path / f"{m}.pids") for m in ("wait", "leave")}
    config = HyperDriveConfig(
        estimator=stubborn_trial,
        hyperparameter_sampling=GridParameterSampling({"mode": choice("wait", "leave"), "pidfile": choice(str(tmp_path / "x"))}),
        policy=NoTerminationPolicy(), primary_metric_name="loss", primary_metric_goal="minimize",
        max_total_runs=2, max_concurrent_runs=2,
    )
    config.estimator = lambda mode, pidfile: stubborn_trial(pidfiles[mode], mode)
    run = Experiment(Workspace(str(tmp_path / "ws")), "stubborn").submit(config)
    end = time.time() + 60
    while time.time() < end and not (_pids(Path(pidfiles["wait"])) and _pids(Path(pidfiles["leave"]))):
        time.sleep(0.05)
    waiting = next(c for c in run.get_children() if c.get_details()["parameters"]["mode"] == "wait")
    while time.time() < end and not waiting.get_metrics().get("loss"):
        time.sleep(0.05)
    run.cancel_child(waiting.id)
    run.wait_for_completion()
    grandchildren = _pids(Path(pidfiles["wait"])) | _pids(Path(pidfiles["leave"]))
    assert len(grandchildren) == 2
    assert not _left_running(grandchildren), "a grandchild outlived its trial"
    _table("grandchild ignoring SIGTERM (1 canceled trial, 1 completed leaving it)", "-", "-",
           f"0 of {len(grandchildren)}", "-")
    statuses = sorted((c.get_details()["parameters"]["mode"], c.get_status()) for c in run.get_children())
    assert statuses == [("leave", "Completed"), ("wait", "Canceled")]


def worker_victim(ackdir):
    import os
    import time

    from hdnotebook import Run

    run = Run.get_context()
    with open(os.path.join(ackdir, "host"), "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    for k in range(4000):
        run.log("loss", float(k))
        time.sleep(0.01)


@pytest.mark.slow
def test_a_host_whose_worker_was_killed_ends_itself_and_logs_nothing_more(tmp_path):
    from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Workspace, choice

    config = HyperDriveConfig(
        estimator=worker_victim, hyperparameter_sampling=RandomParameterSampling({"ackdir": choice(str(tmp_path))}),
        policy=NoTerminationPolicy(), primary_metric_name="loss", primary_metric_goal="minimize",
        max_total_runs=1, max_concurrent_runs=1,
    )
    run = Experiment(Workspace(str(tmp_path / "ws")), "victim").submit(config)
    end = time.time() + 60
    while time.time() < end and not (tmp_path / "host").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    host, worker = (int(p) for p in (tmp_path / "host").read_text().split())
    os.kill(worker, signal.SIGKILL)
    assert not _left_running({host}, within=5), "the trial host outlived its worker"
    run.wait_for_completion()
    (child,) = run.get_children()
    assert child.get_status() == "Failed" and "worker lost" in child.get_details()["error"]["message"]
    count = len(child.get_metrics()["loss"])
    time.sleep(1.0)
    assert len(child.get_metrics()["loss"]) == count < 4000  # nothing more arrived after the kill
    _table("loky worker SIGKILLed under a logging trial", "-", f"{count} (none after the kill)", "0 of 1 host",
           "its run Failed (worker lost)")


def leaky_trial(step, outdir):
    import os
    import resource
    import signal
    import threading
    import time

    from hdnotebook import Run

    run = Run.get_context()
    seen = {"cwd": os.getcwd(), "env": os.environ.get("LEAK"), "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "usr1": str(signal.getsignal(signal.SIGUSR1)), "pid": os.getpid()}
    with open(os.path.join(outdir, f"seen-{step}"), "w") as f:
        f.write(repr(seen))
    if step == 0:  # change everything a trial can change in its process, leave no thread
        os.chdir("/")
        os.environ["LEAK"] = "yes"
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        signal.signal(signal.SIGUSR1, lambda *a: None)
    if step == 2:  # leave a thread that keeps logging
        def chatter():
            while True:
                try:
                    run.log("leak", 1.0)
                except BaseException:
                    pass
                time.sleep(0.01)

        threading.Thread(target=chatter, daemon=True).start()
        time.sleep(0.1)
    run.log("loss", float(step))


@pytest.mark.slow
def test_nothing_a_trial_sets_in_its_host_reaches_the_next_trial(tmp_path):
    from hdnotebook import Experiment, GridParameterSampling, HyperDriveConfig, NoTerminationPolicy, Workspace, choice

    config = HyperDriveConfig(
        estimator=leaky_trial,
        hyperparameter_sampling=GridParameterSampling({"step": choice(0, 1, 2, 3), "outdir": choice(str(tmp_path))}),
        policy=NoTerminationPolicy(), primary_metric_name="loss", primary_metric_goal="minimize",
        max_total_runs=4, max_concurrent_runs=1,
    )
    run = Experiment(Workspace(str(tmp_path / "ws")), "leaks").submit(config)
    run.wait_for_completion()
    seen = {i: eval((tmp_path / f"seen-{i}").read_text()) for i in range(4)}  # noqa: S307 - our own repr
    for i in (1, 2, 3):
        assert {k: v for k, v in seen[i].items() if k != "pid"} == {k: v for k, v in seen[0].items() if k != "pid"}
    assert seen[1]["pid"] == seen[0]["pid"]  # a reset host is reused...
    assert seen[3]["pid"] != seen[2]["pid"]  # ...unless the trial left a thread: then a fresh one
    children = {c.get_details()["parameters"]["step"]: c for c in run.get_children()}
    assert all(c.get_status() == "Completed" for c in children.values())
    assert "leak" not in children[3].get_metrics()  # the leftover thread never logged into trial 3
    _table("host state leaks (cwd, env, RLIMIT_NOFILE, SIGUSR1, a leftover thread)", "-",
           "0 values of trial 2's thread under trial 3", 0, "host reset (trial 1), retired (trial 3)")


def test_a_function_trials_output_is_kept_in_its_run(tmp_path):
    from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Workspace, choice

    def noisy(x):
        import os
        import sys

        print(f"hello from the trial x={x}")
        print("a warning", file=sys.stderr)
        os.system("echo from a subprocess")
        return x

    config = HyperDriveConfig(
        estimator=noisy, hyperparameter_sampling=RandomParameterSampling({"x": choice(1)}),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize", max_total_runs=1,
    )
    run = Experiment(Workspace(str(tmp_path / "ws")), "noisy").submit(config)
    run.wait_for_completion()
    (child,) = run.get_children()
    output = child.get_details()["properties"]["output"]
    assert "hello from the trial x=1" in output and "a warning" in output and "from a subprocess" in output
