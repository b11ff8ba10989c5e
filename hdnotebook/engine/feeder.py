"""The driver's side of lanes: handing trials out to them and noticing the ones that end.

A :class:`LaneFeeder` belongs to one :class:`~hdnotebook.engine.scheduler.ExperimentDriver`, which
gives it a :class:`TrialSource` (itself): the feeder answers a lane's ``("next", ...)`` message by
finishing the lane's last trial and asking the source for the next one (drawn from the sampler only
then), and keeps one lane running per free slot while there is work. The worker side of a lane is
:mod:`hdnotebook.engine.lane`.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

from .._vocab import RunStatus
from .dispatch import Dispatcher
from .lane import LaneSpec
from .trial import OutcomeKind, TrialOutcome, TrialSpec
from .trials import Trial, TrialRuntime

__all__ = ["Lane", "LaneFeeder", "TrialSource", "LANE_START_FAILURES"]

#: lanes in a row that fail before running any trial: the backend cannot run trials at all
LANE_START_FAILURES = 3


@dataclass
class Lane:
    """One joblib task that runs trial after trial (see :mod:`hdnotebook.engine.lane`).

    ``lane_id`` numbers every lane the feeder started; ``slot`` is the place it holds among the
    live ones, the lowest free when it started (0 .. concurrency - 1): a lane that ends frees its
    slot for the next one. Each trial's run records the slot it ran in (details ``lane``), so no
    two trials that ran at the same time share one.
    """

    lane_id: int
    slot: int = 0
    current: Trial | None = None
    trials: int = 0
    host: str = ""
    pid: int | None = None
    ended: bool = False


class TrialSource(Protocol):
    """What the feeder asks of the driver."""

    def next_trial(self) -> Trial | None:
        """The next trial to run (a retry, else a new one from the sampler); ``None``: none now."""

    def begin(self, trial: Trial, lane: Lane, info: dict[str, Any]) -> TrialSpec | None:
        """``trial`` goes to ``lane``: mark it Running; its spec, or ``None`` if it ended meanwhile."""

    def finish(self, trial: Trial, outcome: TrialOutcome) -> bool:
        """``trial`` ended with ``outcome``; whether that finished it (``False``: it had ended)."""

    def work_left(self) -> int:
        """How many more trials could still run (0: none will)."""


class LaneFeeder:
    """Hands trials to lanes and keeps them running (see the module doc).

    Args:
        source: the driver.
        dispatcher: runs lanes on the joblib backend.
        lane_spec: builds the :class:`LaneSpec` of a new lane from its id.
        threads: the driver's thread pool (backends other than loky run a lane on one of its threads).
        concurrency: the most lanes alive at once (the driver changes it when steered; 0: paused).
        lock: the driver's trials lock (a lane's current trial changes with its trial).
        wake: wakes the driver loop (a lane ended).
    """

    def __init__(
        self,
        source: TrialSource,
        dispatcher: Dispatcher,
        lane_spec: Callable[[int], LaneSpec],
        threads: Executor,
        concurrency: int,
        lock: threading.RLock,
        wake: Callable[[], None],
    ) -> None:
        self._source = source
        self._dispatcher = dispatcher
        self._lane_spec = lane_spec
        self._threads = threads
        self.concurrency = concurrency
        self._lock = lock
        self._wake = wake
        self.lanes: dict[int, Lane] = {}
        self._handout = threading.Lock()
        self._ends: queue.Queue[tuple[Lane, BaseException | None]] = queue.Queue()
        self._start_failures = 0
        #: the most lanes that were alive at once (never above ``concurrency``)
        self.peak_live = 0
        self.closed = False

    # -- a lane asks for work ---------------------------------------------------------------------
    def on_next(self, lane_id: int, outcome: TrialOutcome | None, info: dict[str, Any]) -> TrialSpec | None:
        """A lane reports how its last trial ended and asks for the next one (``None``: no more)."""
        with self._lock:
            lane = self.lanes.get(lane_id)
            if lane is None or lane.ended:
                return None
            trial, lane.current = lane.current, None
            lane.host, lane.pid = info.get("host", ""), info.get("pid")
        if trial is not None:
            if outcome is None or outcome.run_id != trial.run_id:
                # the backend started the lane's task again (Dask re-runs a lost worker's tasks)
                outcome = lost_outcome(trial, lane, None)
            self._source.finish(trial, outcome)
        if self.closed:
            return None
        with self._handout:  # the check and the hand-out together: two lanes never both take the last slot
            with self._lock:
                busy = sum(1 for other in self.lanes.values() if other.current is not None and not other.ended)
            if busy >= self.concurrency:
                return None  # fewer at once now (paused, or max_concurrent_runs lowered): this lane ends
            trial = self._source.next_trial()
            if trial is None:
                return None
            with self._lock:
                lane.current = trial
                lane.trials += 1
        spec = self._source.begin(trial, lane, info)
        if spec is None:
            with self._lock:
                lane.current = None
        return spec

    # -- keeping lanes running --------------------------------------------------------------------
    def live(self) -> int:
        with self._lock:
            return sum(1 for lane in self.lanes.values() if not lane.ended)

    def idle(self) -> bool:
        """No lane is alive."""
        return self.live() == 0

    def wanted(self) -> int:
        """How many lanes to start now: one per free slot, no more than there is work for."""
        if self.closed:
            return 0
        work = self._source.work_left()
        if work <= 0:
            return 0
        with self._lock:
            live = [lane for lane in self.lanes.values() if not lane.ended]
            busy = sum(1 for lane in live if lane.current is not None)
            return max(0, min(self.concurrency - len(live), work - (len(live) - busy)))

    def start_lanes(self) -> None:
        """Start as many lanes as :meth:`wanted` says."""
        for _ in range(self.wanted()):
            self._start_lane()

    def _start_lane(self) -> None:
        with self._lock:
            taken = {la.slot for la in self.lanes.values() if not la.ended}
            lane = Lane(lane_id=len(self.lanes), slot=next(k for k in range(len(taken) + 1) if k not in taken))
            self.lanes[lane.lane_id] = lane
            self.peak_live = max(self.peak_live, sum(1 for la in self.lanes.values() if not la.ended))
        future = self._dispatcher.submit(self._lane_spec(lane.lane_id), self._threads)
        future.add_done_callback(lambda f, lane=lane: self._lane_ended(lane, f))

    def _lane_ended(self, lane: Lane, future: Any) -> None:
        try:
            future.result()
            error = None
        except BaseException as exc:  # the worker or the backend failed, not a trial
            error = exc
        self._ends.put((lane, error))
        self._wake()

    def collect_ended(self) -> None:
        """Note the lanes that ended; a lane's unfinished trial lost its worker.

        Raises ``RuntimeError`` when :data:`LANE_START_FAILURES` lanes in a row failed before
        running any trial (the backend cannot run trials at all).
        """
        while True:
            try:
                lane, error = self._ends.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                lane.ended = True
                trial, lane.current = lane.current, None
            if trial is not None:
                kill_trial_processes(trial.runtime)  # what its dead worker's host started dies too
                self._source.finish(trial, lost_outcome(trial, lane, error))
            if error is None or lane.trials:
                self._start_failures = 0
                continue
            self._start_failures += 1
            if self._start_failures >= LANE_START_FAILURES:
                raise RuntimeError(lane_failure_message(self._dispatcher.backend, error)) from error

    def close(self) -> None:
        """No more trials go out; lanes that ask get ``None`` and end."""
        self.closed = True


def lost_outcome(trial: Trial, lane: Lane, error: BaseException | None) -> TrialOutcome:
    """The outcome of a trial whose worker died under it."""
    cause = f" ({type(error).__name__}: {error})" if error is not None else ""
    message = (
        f"worker lost: the worker process running this trial (host {lane.host or '?'}, pid "
        f"{lane.pid}) died mid-trial{cause}; HyperDriveConfig(max_retries=N) runs such trials again"
    )
    return TrialOutcome(trial.run_id, RunStatus.FAILED, error=message, kind=OutcomeKind.WORKER_LOST)


def kill_trial_processes(runtime: TrialRuntime) -> None:
    """SIGKILL a local trial's process group (its host or script leads one) and all in it."""
    if not runtime.child_pid or runtime.host != socket.gethostname():
        return
    try:
        os.killpg(runtime.child_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _is_pickling_error(error: BaseException) -> bool:
    """Whether ``error`` or an error it came from is a failure to pickle."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, pickle.PicklingError):
            return True
        current = current.__cause__ or current.__context__
    return False


def lane_failure_message(backend: str, error: BaseException) -> str:
    """Why no lane could run a trial, with what to do when the trial does not pickle."""
    message = f"the joblib backend {backend!r} could not run a trial: {type(error).__name__}: {error}"
    if _is_pickling_error(error):
        message += (
            ". The trial function, and everything it uses, must pickle (with cloudpickle) to reach "
            "the worker processes: create locks, connections and open files inside the function, "
            "or run the trials on threads with joblib.parallel_config(backend='threading')"
        )
    return message
