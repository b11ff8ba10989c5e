"""TruncationSelectionPolicy: at each evaluation, stop the runs in the lowest X % at that interval."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision, metric_key

__all__ = ["TruncationSelectionPolicy"]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Stop the runs whose value at the interval lies in the lowest ``truncation_percentage`` %.

    At interval ``k``, among the ``n`` runs that reached ``k``, run ``r`` has rank ``i`` from the
    worst (0-based; ties count in ``r``'s favour, so equal runs rank above each other) and stops
    when ``i < n * truncation_percentage / 100``. A run alone at its interval, and the best
    run(s) at it, are never stopped. NaN counts as worst.

        >>> policy = TruncationSelectionPolicy(truncation_percentage=50)
        >>> histories = {"a": [0.9], "b": [0.8], "c": [0.3], "d": [0.1]}
        >>> policy.check("c", histories, "maximize").reason
        'TruncationSelectionPolicy: 0.3 at interval 1 ranks 1 from the worst of 4 runs, in the lowest 50% (stopped below 0.8)'
        >>> policy.check("b", histories, "maximize") is None
        True

    Args:
        truncation_percentage: X, an int from 1 to 99.
        evaluation_interval: apply the policy every Nth interval.
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation``.
    """

    def __init__(
        self, truncation_percentage: int, evaluation_interval: int = 1, delay_evaluation: int = 0
    ) -> None:
        if isinstance(truncation_percentage, bool) or not isinstance(truncation_percentage, Integral):
            raise TypeError(
                "TruncationSelectionPolicy: truncation_percentage must be an int from 1 to 99, "
                f"got {truncation_percentage!r}"
            )
        if not 1 <= truncation_percentage <= 99:
            raise ValueError(
                "TruncationSelectionPolicy: truncation_percentage must be an int from 1 to 99, "
                f"got {truncation_percentage!r}"
            )
        self.truncation_percentage = int(truncation_percentage)
        super().__init__(evaluation_interval, delay_evaluation)

    def _decide(
        self, run_id: str, interval: int, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        others = [
            float(h[interval - 1])
            for rid, h in histories.items()
            if rid != run_id and len(h) >= interval
        ]
        n = len(others) + 1
        if n < 2:
            return None
        value = float(histories[run_id][interval - 1])
        key = metric_key(value, goal)
        rank = sum(1 for v in others if metric_key(v, goal) <= key)
        if rank == n - 1 or not rank * 100 < n * self.truncation_percentage:
            return None
        # the worst value that survives: the first run at or above the cutoff
        ordered = sorted([value, *others], key=lambda v: metric_key(v, goal))
        survivor = ordered[min(-(-n * self.truncation_percentage // 100), n - 1)]
        shown = "NaN (counts as worst)" if math.isnan(value) else _fmt(value)
        side = "below" if goal == "maximize" else "above"
        return StopDecision(
            run_id=run_id,
            policy=type(self).__name__,
            interval=interval,
            value=value,
            threshold=survivor,
            reason=(
                f"TruncationSelectionPolicy: {shown} at interval {interval} ranks {rank} from the "
                f"worst of {n} runs, in the lowest {self.truncation_percentage}% "
                f"(stopped {side} {_fmt(survivor)})"
            ),
        )

    def _params(self) -> dict[str, Any]:
        return {"truncation_percentage": self.truncation_percentage, **super()._params()}
