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
from collections.abc import Iterable
from typing import Any

__all__ = [
    "RunStatus",
    "TERMINAL_STATUSES",
    "GOALS",
    "MAXIMIZE",
    "MINIMIZE",
    "check_goal",
    "metric_key",
    "best_value",
    "trial_state",
]


class RunStatus(enum.StrEnum):
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
