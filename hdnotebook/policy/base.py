"""The early-termination policy base class (SPEC §4).

A policy is a pure rule over the primary-metric curves of an experiment's runs and the goal. The
engine feeds every primary-metric value, in arrival order, to the policy's
:class:`~hdnotebook.policy.population.PolicyTracker` (and tells it when runs end); the replay
(:mod:`hdnotebook.policy.replay`) does the same over stored curves, so both agree.

Every policy compares against one population (:mod:`hdnotebook.policy.population`): at interval
``k``, the other runs that reached ``k`` with their value there, and the runs that ended before
``k`` with what they had (their last value; Median: their running average). A policy never stops a
run on fewer than its minimum of comparable runs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from .._format import format_number
from .._vocab import GOALS, check_goal, metric_key
from .population import PolicyTracker, Population


def shown_value(value: float) -> str:
    """A metric value as a stop reason writes it (the one number format; NaN says it counts as worst).

    >>> shown_value(0.123456), shown_value(float("nan"))
    ('0.1235', 'NaN (counts as worst)')
    """
    return "NaN (counts as worst)" if math.isnan(value) else format_number(value)

__all__ = ["StopDecision", "EarlyTerminationPolicy", "metric_key", "check_goal"]

@dataclass(frozen=True)
class StopDecision:
    """A policy's verdict that one run should stop now.

    Attributes:
        run_id: the run to stop.
        policy: the policy's class name, e.g. ``"BanditPolicy"``.
        interval: the interval (1-based count of primary-metric logs) it was judged at.
        value: the run's value that was judged.
        threshold: the value it had to reach, when the policy has one.
        reason: one sentence a user can read in the widget.
    """

    run_id: str
    policy: str
    interval: int
    value: float
    threshold: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "policy": self.policy,
            "interval": self.interval,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
        }


def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


class EarlyTerminationPolicy(ABC):
    """Base class: decides, when a run logs the primary metric, whether it stops.

    Args:
        evaluation_interval: apply the policy every Nth interval (default 1).
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation`` (default 0).
    """

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        owner = type(self).__name__
        self.evaluation_interval = _check_int(owner, "evaluation_interval", evaluation_interval, 1)
        self.delay_evaluation = _check_int(owner, "delay_evaluation", delay_evaluation, 0)

    def is_evaluation_point(self, interval: int) -> bool:
        """Whether the policy is applied at this 1-based interval."""
        return (
            interval >= 1
            and interval % self.evaluation_interval == 0
            and interval >= self.delay_evaluation
        )

    def tracker(self, goal: Any) -> PolicyTracker:
        """A fresh :class:`~hdnotebook.policy.population.PolicyTracker`: this policy applied to one
        experiment, value by value (what the engine and the replay use)."""
        return PolicyTracker(self, check_goal(goal))

    def check(
        self,
        run_id: Hashable,
        histories: Mapping[Hashable, Sequence[float]],
        goal: Any,
        ended: Collection[Hashable] = (),
    ) -> StopDecision | None:
        """Judge ``run_id``, which has just logged its latest primary-metric value.

        A convenience over whole histories (it rebuilds the population each call: O(all values));
        the engine keeps a :meth:`tracker` instead.

        Args:
            run_id: the run that logged; its interval is ``len(histories[run_id])``.
            histories: primary-metric values in logging order for the runs of the experiment.
            goal: ``"maximize"`` or ``"minimize"`` (or a ``PrimaryMetricGoal``).
            ended: the runs that have ended (completed, stopped, failed, canceled); one of them
                with fewer values than ``run_id`` counts with what it had, while a run not in
                ``ended`` that has not reached the interval yet is left out.

        Returns:
            A :class:`StopDecision` when the run should stop now, else ``None``.
        """
        goal = check_goal(goal)
        interval = len(histories[run_id])
        if not self.is_evaluation_point(interval):
            return None
        population = Population(goal)
        for rid, values in histories.items():
            for value in values:
                population.add(rid, value)
            if rid in ended:
                population.end(rid)
        return self._decide(run_id, interval, population, goal)

    @abstractmethod
    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        """Policy-specific rule, called only at evaluation points, with ``run_id``'s value at
        ``interval`` already in ``population``."""

    def _params(self) -> dict[str, Any]:
        return {
            "evaluation_interval": self.evaluation_interval,
            "delay_evaluation": self.delay_evaluation,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._params() == self._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))
