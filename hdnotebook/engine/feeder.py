"""The driver's side of lanes: handing trials out to them and noticing the ones that end.

:class:`LaneFeeder` is a part of :class:`~hdnotebook.engine.scheduler.ExperimentDriver` (a mixin):
it answers a lane's ``("next", ...)`` message with its next trial, drawn from the sampler only
then, and keeps one lane running per free slot while there is work. It uses the driver's state
(``_lock``, ``_draw_lock``, ``_lanes``, ``_retry``, ``_trials``, ``store``, ``config``, ...) and its
trial bookkeeping (``_finish_trial``, ``_create_trial``, ``_next_params``, ``_spec``); the worker
side of a lane is :mod:`hdnotebook.engine.lane`.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..estimator import ScriptRunConfig
from .._vocab import RunStatus
from .lane import LaneSpec
from .trial import TrialOutcome, TrialSpec

if TYPE_CHECKING:
    from .scheduler import _Trial

__all__ = ["Lane", "LaneFeeder", "LANE_START_FAILURES"]

#: lanes in a row that fail before running any trial: the backend cannot run trials at all
LANE_START_FAILURES = 3


@dataclass
class Lane:
    """One joblib task that runs trial after trial (see :mod:`hdnotebook.engine.lane`)."""

    lane_id: int
    current: _Trial | None = None
    trials: int = 0
    host: str = ""
    pid: int | None = None
    ended: bool = False


class LaneFeeder:
    """Hands trials to lanes and keeps them running (part of the driver, see the module doc)."""

    def _on_next(self, lane_id: int, outcome: TrialOutcome | None, info: dict[str, Any]) -> TrialSpec | None:
        """A lane reports how its last trial ended and asks for the next one (``None``: no more)."""
        with self._lock:
            lane = self._lanes.get(lane_id)
            if lane is None or lane.ended:
                return None
            trial, lane.current = lane.current, None
            if trial is not None:
                if outcome is not None and outcome.run_id == trial.run_id:
                    self._finish_trial(trial, outcome)
                else:  # the backend started the lane's task again (Dask re-runs a lost worker's tasks)
                    self._finish_trial(trial, self._lost(trial, lane, None))
            lane.host, lane.pid = info.get("host", ""), info.get("pid")
        trial = self._assign(lane)
        if trial is None:
            return None
        with self._lock:
            trial.child_pid = info.get("child_pid")
            trial.host, trial.worker_pid = lane.host, lane.pid
            lane.trials += 1
        running = {"pid": lane.pid, "host": lane.host, "gpus": trial.gpus or None, "attempts": trial.attempts}
        if not trial.stored:  # a new trial: one row, already Running
            trial.stored = True
            self.store.insert_run(
                id=trial.run_id, experiment=self.experiment, parent_id=self.parent_id, number=trial.number,
                status=RunStatus.RUNNING, created=trial.created, started=time.time(), params=trial.params,
                details={**trial.details, **running},
            )
        else:
            self.store.update_run(trial.run_id, status=RunStatus.RUNNING, started=time.time(), details=running)
        return self._spec(trial)

    def _lost(self, trial: _Trial, lane: Lane, error: BaseException | None) -> TrialOutcome:
        cause = f" ({type(error).__name__}: {error})" if error is not None else ""
        message = (
            f"worker lost: the worker process running this trial (host {lane.host or '?'}, pid "
            f"{lane.pid}) died mid-trial{cause}; HyperDriveConfig(max_retries=N) runs such trials again"
        )
        return TrialOutcome(trial.run_id, RunStatus.FAILED, error=message)

    def _assign(self, lane: Lane) -> _Trial | None:
        """The lane's next trial: a retry, else a new configuration from the sampler; None if done."""
        with self._draw_lock:
            with self._lock:
                if self._cancel_reason is not None:
                    return None
                if self._retry:
                    trial = self._retry.pop(0)
                    trial.attempts += 1
                    trial.status = RunStatus.RUNNING
                    lane.current = trial
                    return trial
            if self._budget_spent():
                self._exhausted = True
                return None
            gpus = self.slots.acquire(self._slot_request)
            if gpus is None:
                return None
            params = self._next_params()
            if params is None:
                self.slots.release(gpus, self._slot_request)
                self._exhausted = True
                return None
            trial = self._create_trial(params, gpus)
            with self._lock:
                lane.current = trial
            return trial

    def _budget_spent(self) -> bool:
        """No new trial may be created: the sampler ran out, or max_total_runs (resumes aside)."""
        return self._exhausted or (len(self._order) >= self.config.max_total_runs and not self._resume)

    def _no_work_left(self) -> bool:
        return not self._retry and self._budget_spent()

    def _lanes_wanted(self) -> int:
        """How many lanes to start now: one per free slot, no more than there is work for."""
        with self._lock:
            if self._no_work_left():
                return 0
            live = sum(1 for lane in self._lanes.values() if not lane.ended)
            work = len(self._retry) + len(self._resume) + max(0, self.config.max_total_runs - len(self._order))
            busy = sum(1 for lane in self._lanes.values() if not lane.ended and lane.current is not None)
            return max(0, min(self.concurrency - live, work - (live - busy)))

    def _start_lane(self) -> None:
        with self._lock:
            lane = Lane(lane_id=len(self._lanes))
            self._lanes[lane.lane_id] = lane
        estimator = self.config.estimator
        spec = LaneSpec(
            lane_id=lane.lane_id, address=self.channel.address, authkey=self.channel.authkey,
            function=None if isinstance(estimator, ScriptRunConfig) else estimator,
        )
        future = self.dispatcher.submit(spec, self._pool)
        future.add_done_callback(lambda f, lane=lane: self._lane_ended(lane, f))

    def _lane_ended(self, lane: Lane, future: Any) -> None:
        try:
            future.result()
            error = None
        except BaseException as exc:  # the worker or the backend failed, not a trial
            error = exc
        self._lane_ends.put((lane, error))
        self._wake.set()

    def _collect_lane_ends(self) -> None:
        while True:
            try:
                lane, error = self._lane_ends.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                lane.ended = True
                trial, lane.current = lane.current, None
                if trial is not None:
                    self._finish_trial(trial, self._lost(trial, lane, error))
                if error is None or lane.trials:
                    self._lane_failures = 0
                    continue
                self._lane_failures += 1
                if self._lane_failures >= LANE_START_FAILURES:
                    raise RuntimeError(_lane_failure_message(self.dispatcher.backend, error)) from error


def _lane_failure_message(backend: str, error: BaseException) -> str:
    message = f"the joblib backend {backend!r} could not run a trial: {type(error).__name__}: {error}"
    if "pickl" in f"{type(error).__name__} {error} {error.__cause__}".lower():
        message += (
            ". The trial function, and everything it uses, must pickle (with cloudpickle) to reach "
            "the worker processes: create locks, connections and open files inside the function, "
            "or run the trials on threads with joblib.parallel_config(backend='threading')"
        )
    return message
