"""A lane: one joblib task that runs trial after trial, as the driver hands them out.

The driver keeps one lane per slot of the experiment's concurrency. A lane is a single task on
the joblib backend active at submit (a loky worker, a Dask worker thread, ...); it connects to the
driver's channel once and asks ``("next", lane_id, last_outcome, info)``; the reply is the next
trial (a :class:`TrialSpec` without the function) or ``None`` when there is no more work. So a
trial costs one round trip to the driver, not a joblib task of its own, and the sampler still
draws each configuration only when a lane is free to run it.

Where the worker is single-threaded (loky), function trials run in a **trial host**: a ``fork`` of
the worker that runs one trial after another, sent to it over a pipe. A trial that crashes the
host (``os.abort``, ``os._exit``, the OOM killer) or must be killed after a stop ends only itself:
the lane reports it Failed (or Canceled) and forks a fresh host for the next trial. A host is
forked with the trial's GPUs in ``CUDA_VISIBLE_DEVICES`` before anything imports CUDA, and a trial
given other GPUs than the host has gets a fresh host, so a trial given GPU k sees only GPU k.
Script trials are their own process group; where the worker has other threads (Dask, the
``threading`` backend) function trials run in the worker itself.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any, Callable

from ..channel import ChannelClient
from ..run import MLFLOW_TRACKING_URI
from .._vocab import RunStatus
from .trial import (
    POLL_SECONDS,
    OutcomeKind,
    TrialOutcome,
    TrialSpec,
    _call_function,
    _died,
    _stop_kind,
    _kill,
    _poll_quiet,
    _run_inline,
    _run_script,
    _supervise,
    _warm_worker,
)

__all__ = ["LaneSpec", "run_lane"]


@dataclass
class LaneSpec:
    """What every trial of a lane shares (pickled to the worker once, by joblib)."""

    lane_id: int
    address: tuple[str, int]
    authkey: bytes
    #: the trial function; ``None`` for script trials (each :class:`TrialSpec` names its script)
    function: Callable[..., Any] | None = None


def run_lane(lane: LaneSpec) -> int:
    """The joblib task: run the trials the driver hands out until it has none; returns how many."""
    client = ChannelClient(lane.address, lane.authkey)
    parent = os.getppid()
    info: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname()}
    host = _TrialHost(lane) if lane.function is not None and _can_fork() else None
    outcome: TrialOutcome | None = None
    count = 0
    lost_driver = False
    try:
        while True:
            info["child_pid"] = host.pid if host is not None else None
            try:
                reply = client.request(("next", lane.lane_id, outcome, info))
            except ConnectionError:
                lost_driver = True
                break
            if not reply or reply[0] != "ok" or reply[1] is None:
                break
            spec: TrialSpec = reply[1]
            outcome = _run_one(lane, spec, client, host)
            count += 1
            if outcome.kind == OutcomeKind.DRIVER_LOST:
                lost_driver = True
                break
    finally:
        if host is not None:
            host.close()
        client.close()
    if lost_driver and os.getppid() != parent:
        os._exit(0)  # a pool worker whose kernel died: nobody is left to use it
    return count


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _run_one(lane: LaneSpec, spec: TrialSpec, client: ChannelClient, host: _TrialHost | None) -> TrialOutcome:
    started = time.time()
    if spec.script_path is not None:
        outcome = _run_script(spec, client)
    elif host is not None:
        outcome = host.run(spec, client)
    else:
        spec.function = lane.function
        outcome = _run_inline(spec, process_wide=False)
    outcome.started = outcome.started or started
    outcome.ended = outcome.ended or time.time()
    outcome.host = socket.gethostname()
    return outcome


class _TrialHost:
    """A fork of the (single-threaded) worker that runs function trials one after another."""

    def __init__(self, lane: LaneSpec) -> None:
        self.lane = lane
        self.pid: int | None = None
        self.gpus: list[str] | None = None
        self._conn: Connection | None = None
        # Heavy modules earlier trials imported: the worker imports them just before it forks the
        # next host (not after each trial, which would hold the lane for seconds, e.g. torch).
        self._to_warm: list[str] = []

    def run(self, spec: TrialSpec, client: ChannelClient) -> TrialOutcome:
        """Run one trial in the host (forking one first when needed) and supervise it."""
        if self.pid is not None and spec.gpus != self.gpus:
            self.close()  # CUDA_VISIBLE_DEVICES is read once, when CUDA starts: a fresh host
        for attempt in (0, 1):
            if self.pid is None:
                self._start(spec.gpus)
                _poll_quiet(client, spec.run_id, {"child_pid": self.pid})
            assert self._conn is not None
            try:
                self._conn.send(spec)
                break
            except OSError:  # the host died between trials (a thread of the last one ended it)
                self._reap()
                if attempt:
                    raise
        received: list[TrialOutcome] = []
        signalled: list[int] = []
        conn = self._conn

        def is_done() -> bool:
            if not conn.poll(POLL_SECONDS):
                return False
            try:
                received.append(conn.recv())
            except (EOFError, OSError):
                pass  # the host died: reap() tells how
            return True

        def reap() -> int:
            return 0 if received and not signalled else self._reap()

        def signal_child(sig: int) -> None:
            signalled.append(sig)
            if self.pid is not None:
                _kill(self.pid, sig)

        status, stop = _supervise(spec, client, is_done, reap, signal_child, cooperative=True)
        if received:
            outcome = received[0]
            if stop and outcome.status == RunStatus.FAILED:
                outcome.status, outcome.stop_reason, outcome.kind = RunStatus.CANCELED, stop, _stop_kind(stop)
            self._to_warm.extend(outcome.imported)  # the next host starts with them loaded
            outcome.imported = []
            return outcome
        return _died(spec, status, stop)

    def _start(self, gpus: list[str] | None) -> None:
        to_warm, self._to_warm = self._to_warm, []
        _warm_worker(to_warm)
        parent_end, child_end = Pipe()
        pid = os.fork()
        if pid == 0:  # the host process
            parent_end.close()
            code = 0
            try:
                _host_main(child_end, self.lane, gpus)
            except BaseException:
                code = 70
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        child_end.close()
        self.pid, self.gpus, self._conn = pid, gpus, parent_end

    def _reap(self) -> int:
        """Wait for the host to end (killing it first if it still runs); its wait status."""
        status = 0
        if self.pid is not None:
            _kill(self.pid, signal.SIGKILL)
            try:
                status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:
                pass
        if self._conn is not None:
            self._conn.close()
        self.pid, self._conn = None, None
        return status

    def close(self) -> None:
        """End the host: it exits when its pipe closes; killed if it does not within a second."""
        if self.pid is None:
            return
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        deadline = time.time() + 1.0
        while time.time() < deadline:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.pid = None
                return
            time.sleep(0.005)
        self._reap()


def _host_main(conn: Connection, lane: LaneSpec, gpus: list[str] | None) -> None:
    """The host's loop: receive a trial, run it, send its outcome; ends when the pipe closes."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    os.environ["MLFLOW_TRACKING_URI"] = MLFLOW_TRACKING_URI  # mlflow in a trial logs into it
    modules_before: set[str] | None = set(sys.modules)
    client = ChannelClient(lane.address, lane.authkey)  # one connection for all the host's trials
    while True:
        try:
            spec: TrialSpec = conn.recv()
        except (EOFError, OSError):
            return
        spec.function = lane.function
        outcome = _call_function(spec, process_wide=True, client=client)
        if modules_before is not None:  # the first trial: what the worker should import itself
            outcome.imported = sorted(set(sys.modules) - modules_before)
            modules_before = None
        try:
            conn.send(outcome)
        except (OSError, EOFError):
            return
        except Exception:  # a return value that does not pickle: send its repr
            outcome.return_value = repr(outcome.return_value)[:1000]
            conn.send(outcome)
