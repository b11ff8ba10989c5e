"""The project's vocabulary: run statuses, goals, how values compare. Imports nothing of hdnotebook.

Every layer (engine, views, server, replay, samplers, policies) takes these words from here, so
each rule has one place:

>>> RunStatus.CANCELED.is_finished, RunStatus("Running").is_finished
(True, False)
>>> check_goal("MAX")
'maximize'
>>> metric_key(float("nan"), "maximize") < metric_key(-1e300, "maximize")   # NaN counts as worst
True
>>> best_value([0.3, float("nan"), 0.1], "minimize")
0.1
>>> trial_state("Canceled")
'stopped'
"""

from __future__ import annotations

import enum
import math
import os
import socket
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "StrEnum",
    "RunStatus",
    "TERMINAL_STATUSES",
    "GOALS",
    "MAXIMIZE",
    "MINIMIZE",
    "check_goal",
    "metric_key",
    "best_value",
    "best_run",
    "trial_state",
    "HEARTBEAT_SECONDS",
    "HEARTBEAT_TIMEOUT",
    "driver_identity",
    "driver_alive",
]


if sys.version_info >= (3, 11):
    StrEnum = enum.StrEnum
else:  # Python 3.10: the same behaviour, spelled out

    class StrEnum(str, enum.Enum):
        """An enum whose members are their plain strings (``enum.StrEnum`` from Python 3.11)."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class RunStatus(StrEnum):
    """The statuses of a run (SPEC §9); equal to their plain strings, so stored rows compare too.

    >>> RunStatus.COMPLETED == "Completed", str(RunStatus.FAILED)
    (True, 'Failed')
    """

    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_finished(self) -> bool:
        """Completed, Failed or Canceled: a finished run never changes status again."""
        return self in _FINISHED


_FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})

#: the finished statuses (``status in TERMINAL_STATUSES`` works on stored plain strings too)
TERMINAL_STATUSES: frozenset[str] = frozenset(_FINISHED)

MAXIMIZE = "maximize"
MINIMIZE = "minimize"
GOALS = (MAXIMIZE, MINIMIZE)


def check_goal(goal: Any) -> str:
    """Normalise a goal (``PrimaryMetricGoal`` or a string, any case) to ``maximize``/``minimize``.

    >>> check_goal("Minimize")
    'minimize'
    """
    value = getattr(goal, "value", goal)
    if isinstance(value, str):
        name = {"max": MAXIMIZE, "min": MINIMIZE}.get(value.lower(), value.lower())
        if name in GOALS:
            return name
    raise ValueError(
        f"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE "
        f"(or 'maximize'/'minimize', 'max'/'min'), got {goal!r}"
    )


def metric_key(value: float, goal: str) -> float:
    """A sort key where larger is better under ``goal``; NaN counts as worst.

    >>> sorted([1.0, 3.0, 2.0], key=lambda v: metric_key(v, "minimize"), reverse=True)
    [1.0, 2.0, 3.0]
    """
    v = float(value)
    if math.isnan(v):
        return -math.inf
    return v if goal == MAXIMIZE else -v


def best_value(values: Iterable[float | None], goal: str) -> float | None:
    """The best of ``values`` under ``goal`` (NaN counts as worst, ``None`` is skipped); ``None`` for none.

    This is the value of a run that counts everywhere: best run, widget, sidebar, samplers, replay.

    >>> best_value([0.2, 0.9, 0.5], "maximize"), best_value([], "maximize")
    (0.9, None)
    """
    best: float | None = None
    for v in values:
        if v is None:
            continue
        if best is None or metric_key(v, goal) > metric_key(best, goal):
            best = float(v)
    return best


def best_run(runs: Iterable[tuple[str, str, float | None]], goal: str) -> tuple[str | None, float | None]:
    """The best run of an experiment: ``(run_id, value)`` from ``(run_id, status, value)`` triples.

    ``value`` is a run's own :func:`best_value`. Failed runs do not count, nor runs without a value
    (or with NaN); Completed, Canceled (stopped early) and running runs do. On a tie the first run
    given wins. ``(None, None)`` when no run counts. The widget's header, the sidebar's list, the
    driver's ``best`` in the experiment run's details and ``get_best_run_by_primary_metric`` all
    take it from here.

    >>> best_run([("a", "Completed", 0.7), ("b", "Failed", 0.9), ("c", "Running", 0.8)], "maximize")
    ('c', 0.8)
    >>> best_run([("a", "Completed", float("nan")), ("b", "Canceled", None)], "minimize")
    (None, None)
    """
    best_id: str | None = None
    best: float | None = None
    for run_id, status, value in runs:
        if value is None or status == RunStatus.FAILED or math.isnan(value):
            continue
        if best is None or metric_key(value, goal) > metric_key(best, goal):
            best_id, best = run_id, float(value)
    return best_id, best


def trial_state(status: str) -> str:
    """A run status as a sampler's :class:`~hdnotebook.sampling.base.TrialRecord` state.

    >>> trial_state("Running"), trial_state("Completed"), trial_state("Failed")
    ('running', 'completed', 'failed')
    """
    return _TRIAL_STATES.get(status, "running")


_TRIAL_STATES = {
    RunStatus.COMPLETED: "completed",
    RunStatus.CANCELED: "stopped",
    RunStatus.FAILED: "failed",
}


#: how often a running experiment's driver writes ``heartbeat`` (a time) into its parent run
HEARTBEAT_SECONDS = 2.0
#: a driver on another machine whose heartbeat is older than this is taken for gone
HEARTBEAT_TIMEOUT = 30.0


def _process_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def driver_identity() -> dict[str, Any]:
    """This process as the driver of a run: what :func:`driver_alive` checks later."""
    pid = os.getpid()
    return {"driver_pid": pid, "driver_host": socket.gethostname(), "driver_start": _process_start_time(pid)}


def driver_alive(details: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the driver named in a parent run's ``details`` still runs.

    On this machine its process tells (pid and start time, so a reused pid does not count); on
    another machine its heartbeat must be newer than :data:`HEARTBEAT_TIMEOUT`.

    >>> driver_alive({"driver_host": "elsewhere", "heartbeat": 100.0}, now=110.0)
    True
    >>> driver_alive({"driver_host": "elsewhere", "heartbeat": 100.0}, now=200.0)
    False
    """
    if details.get("driver_host") == socket.gethostname():
        pid = details.get("driver_pid")
        if not isinstance(pid, int):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        start = details.get("driver_start")
        return start is None or _process_start_time(pid) == start
    beat = details.get("heartbeat") or details.get("session_started")
    if not isinstance(beat, (int, float)):
        return False
    return (time.time() if now is None else now) - beat < HEARTBEAT_TIMEOUT
