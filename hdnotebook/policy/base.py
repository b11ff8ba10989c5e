"""The early-termination policy base class (SPEC §4).

A policy is a pure function of the primary-metric histories of all runs and the goal. The engine
calls :meth:`EarlyTerminationPolicy.check` each time a run logs the primary metric; the replay
(:mod:`hdnotebook.policy.replay`) calls it the same way over stored curves, so both agree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from .._vocab import GOALS, check_goal, metric_key

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

    def check(
        self, run_id: str, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        """Judge ``run_id``, which has just logged its latest primary-metric value.

        Args:
            run_id: the run that logged; its interval is ``len(histories[run_id])``.
            histories: primary-metric values in logging order for every run of the experiment
                (running, finished and stopped ones).
            goal: ``"maximize"`` or ``"minimize"``.

        Returns:
            A :class:`StopDecision` when the run should stop now, else ``None``.
        """
        interval = len(histories[run_id])
        if not self.is_evaluation_point(interval):
            return None
        return self._decide(run_id, interval, histories, check_goal(goal))

    @abstractmethod
    def _decide(
        self, run_id: str, interval: int, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        """Policy-specific rule, called only at evaluation points."""

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
