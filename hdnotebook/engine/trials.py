"""The driver's table of trials: the one place a trial changes status.

Every trial of an experiment is a :class:`Trial` in one :class:`TrialsTable`, guarded by one lock.
A trial moves only through :meth:`TrialsTable.start` and :meth:`TrialsTable.finish`, and only
along :data:`TRANSITIONS`; a move that is not allowed (a trial finished twice, say by a lane that
reports just as the drain gives up on it) returns ``False`` and changes nothing, so each trial
ends exactly once, adds one record for the sampler and gives its GPU slots back once.

What is stored (:class:`Trial`'s own fields) is kept apart from what only this driver needs while
the trial runs (:class:`TrialRuntime`: GPUs, processes, the stop asked for).

>>> from hdnotebook.engine.gpus import GpuSlots
>>> table = TrialsTable("maximize", GpuSlots(["0"]), slot_request=1.0)
>>> trial = table.add(Trial("HD_1_0", 0, {"x": 1}))
>>> table.start(trial, gpus=table.slots.acquire(1.0)), table.slots.available()
(True, 0.0)
>>> table.finish(trial, RunStatus.COMPLETED), table.finish(trial, RunStatus.CANCELED)
(True, False)
>>> print(trial.status, table.slots.available())
Completed 1.0
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._vocab import RunStatus, StrEnum, best_run, best_value, trial_state
from ..policy.base import StopDecision
from ..sampling.base import TrialRecord
from .gpus import GpuSlots

__all__ = ["Trial", "TrialRuntime", "TrialsTable", "StopKind", "TRANSITIONS"]

#: where a trial may go from each status; finished statuses go nowhere
TRANSITIONS: dict[str, frozenset[str]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELED, RunStatus.FAILED}),
    RunStatus.RUNNING: frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED}),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELED: frozenset(),
}


class StopKind(StrEnum):
    """Why the driver asked a trial, or the whole experiment, to stop (the reason text is for people)."""

    POLICY = "policy"
    USER = "user"
    MAX_DURATION = "max_duration"
    TIME_LIMIT = "time_limit"
    DRIVER_FAILED = "driver_failed"


@dataclass
class TrialRuntime:
    """What only the running driver keeps about a trial (never stored, gone after a restart)."""

    gpus: list[str] = field(default_factory=list)
    child_pid: int | None = None
    host: str = ""
    worker_pid: int | None = None
    #: when it went Running (its time limit counts from here; a retry waits Queued first)
    started: float = 0.0
    #: the stop the driver asked for: the policy's decision, or a reason and its kind
    stop: StopDecision | None = None
    stop_reason: str | None = None
    stop_kind: StopKind | None = None
    #: whether its row is in the store yet
    stored: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    #: the trial's best primary value over its first ``best_of`` values (kept up as values arrive)
    best: float | None = None
    best_of: int = 0


@dataclass
class Trial:
    """One trial as the store has it: identity, configuration, status, primary-metric values."""

    run_id: str
    number: int
    params: dict[str, Any]
    arguments: list[str] = field(default_factory=list)
    status: str = RunStatus.QUEUED
    values: list[float] = field(default_factory=list)
    attempts: int = 1
    rerun_of: str | None = None
    superseded_by: str | None = None
    created: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    runtime: TrialRuntime = field(default_factory=TrialRuntime, repr=False, compare=False)

    def best(self, goal: str) -> float | None:
        """Its best primary value so far (:func:`best_value`), reading only the values new since last time."""
        runtime, n = self.runtime, len(self.values)
        if runtime.best_of != n:
            seen = [] if runtime.best is None else [runtime.best]
            runtime.best = best_value(seen + self.values[runtime.best_of:n], goal)
            runtime.best_of = n
        return runtime.best

    def record(self, goal: str) -> TrialRecord:
        """The trial as a sampler sees it."""
        return TrialRecord(
            number=self.number, params=self.params, state=trial_state(self.status),
            value=self.best(goal), intervals=len(self.values), curve=tuple(self.values),
        )


def _number(record: TrialRecord) -> int:
    return record.number


class TrialsTable:
    """Every trial of one experiment, one lock, one state machine (see the module doc).

    Args:
        goal: the primary metric's goal (for the sampler's records).
        slots: this machine's GPU slots; a trial's are given back when it finishes.
        slot_request: what one trial takes from ``slots`` (0: none).
        on_finish: called under the lock with each trial that really finished (for the store).
    """

    def __init__(
        self,
        goal: str,
        slots: GpuSlots,
        slot_request: float = 0.0,
        on_finish: Callable[[Trial], None] | None = None,
    ) -> None:
        self.goal = goal
        self.slots = slots
        self.slot_request = slot_request
        self.lock = threading.RLock()
        self._on_finish = on_finish
        self.by_id: dict[str, Trial] = {}
        #: creation order
        self.order: list[Trial] = []
        #: not finished yet (queued or running)
        self.active: dict[str, Trial] = {}
        #: the sampler's view of finished trials, kept sorted by number as trials end
        self._finished_records: list[TrialRecord] = []
        self._superseded = 0
        #: transitions refused (a second finish of one trial, ...): for tests and diagnostics
        self.refused = 0

    # -- membership ------------------------------------------------------------------------------
    def add(self, trial: Trial) -> Trial:
        """A new trial (queued), or a finished one taken over from the store (resume)."""
        with self.lock:
            if trial.run_id in self.by_id:
                raise ValueError(f"trial {trial.run_id} is already in the table")
            self.by_id[trial.run_id] = trial
            self.order.append(trial)
            if RunStatus(trial.status).is_finished:
                trial.runtime.finished.set()
                bisect.insort(self._finished_records, trial.record(self.goal), key=_number)
            else:
                self.active[trial.run_id] = trial
            return trial

    def get(self, run_id: str) -> Trial | None:
        with self.lock:
            return self.by_id.get(run_id)

    def counted(self) -> int:
        """Trials that count toward ``max_total_runs`` (a retried attempt counts once, as its retry)."""
        with self.lock:
            return len(self.order) - self._superseded

    # -- the state machine -----------------------------------------------------------------------
    def _move(self, trial: Trial, status: str) -> bool:
        if status not in TRANSITIONS[trial.status]:
            self.refused += 1
            return False
        trial.status = status
        return True

    def can_move(self, trial: Trial, status: str) -> bool:
        """Whether ``trial`` may go to ``status`` now (hold :attr:`lock` to act on the answer)."""
        with self.lock:
            if status in TRANSITIONS[trial.status]:
                return True
            self.refused += 1
            return False

    def start(self, trial: Trial, gpus: list[str] | None = None) -> bool:
        """Queued -> Running, holding ``gpus``; ``False`` (and the GPUs given back) when it ended meanwhile."""
        with self.lock:
            if not self._move(trial, RunStatus.RUNNING):
                if gpus:
                    self.slots.release(gpus, self.slot_request)
                return False
            trial.runtime.gpus = list(gpus or [])
            trial.runtime.started = time.time()
            return True

    def finish(self, trial: Trial, status: str, superseded_by: str | None = None) -> bool:
        """End ``trial`` with ``status``; ``False`` when it had already ended (then nothing changes).

        Only a real transition gives the trial's GPU slots back, adds its record for the sampler
        (unless a retry supersedes it) and calls ``on_finish``.
        """
        with self.lock:
            if not self._move(trial, status):
                return False
            self.active.pop(trial.run_id, None)
            if superseded_by is not None:
                # its retry takes its place in the budget and for the sampler; for the policy it is a
                # run that ended with what it had (as a replay of the stored values sees it)
                trial.superseded_by = superseded_by
                self._superseded += 1
            else:
                bisect.insort(self._finished_records, trial.record(self.goal), key=_number)
            gpus, trial.runtime.gpus = trial.runtime.gpus, []
            if gpus:
                self.slots.release(gpus, self.slot_request)
            if self._on_finish is not None:
                self._on_finish(trial)
            trial.runtime.finished.set()
            return True

    # -- views -----------------------------------------------------------------------------------
    def records(self) -> list[TrialRecord]:
        """What the sampler is given: the trials in creation order, the unfinished ones included.

        A finished trial's record never changes, so it is built once, when the trial ends: a
        suggestion costs about the same at trial 1000 as at trial 10.
        """
        with self.lock:
            records = list(self._finished_records)
            for trial in self.active.values():  # a few (the concurrency): placed by number
                bisect.insort(records, trial.record(self.goal), key=_number)
            return records

    def best_run(self) -> tuple[str | None, float | None]:
        """``(run_id, value)`` of the best trial so far by :func:`~hdnotebook._vocab.best_run` (retried
        attempts left out), what the driver writes into the experiment run's details."""
        with self.lock:
            return best_run(
                ((t.run_id, t.status, t.best(self.goal)) for t in self.order if t.superseded_by is None), self.goal
            )

    def statuses(self) -> list[str]:
        """The status of every trial that counts (retried attempts left out), in creation order."""
        with self.lock:
            return [t.status for t in self.order if t.superseded_by is None]
