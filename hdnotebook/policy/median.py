"""MedianStoppingPolicy: stop runs whose best so far is worse than the median of running averages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .base import EarlyTerminationPolicy, StopDecision, metric_key

__all__ = ["MedianStoppingPolicy"]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _median(keys: Sequence[float]) -> float:
    ordered = sorted(keys)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    middle = (ordered[mid - 1] + ordered[mid]) / 2
    return ordered[mid - 1] if math.isnan(middle) else middle  # -inf and +inf: take the worse


def _average(values: Sequence[float]) -> float:
    return math.fsum(float(v) for v in values) / len(values)


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop a run whose best value so far is worse than the median of the runs' running averages.

    At interval ``k`` the policy takes, for every run that reached ``k`` (the judged run
    included), the average of its values over intervals ``1..k``; the judged run stops when its
    best value over ``1..k`` is worse than the median of those averages. NaN counts as worst.

        >>> policy = MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2)
        >>> histories = {"a": [0.8, 0.9], "b": [0.7, 0.8], "c": [0.1, 0.2]}
        >>> policy.check("c", histories, "maximize").threshold
        0.75
        >>> policy.check("b", histories, "maximize") is None
        True

    Args:
        evaluation_interval: apply the policy every Nth interval.
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation``.
    """

    def _decide(
        self, run_id: str, interval: int, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        averages = [_average(h[:interval]) for h in histories.values() if len(h) >= interval]
        median_key = _median([metric_key(a, goal) for a in averages])
        own = histories[run_id][:interval]
        best = max((float(v) for v in own), key=lambda v: metric_key(v, goal))
        key = metric_key(best, goal)
        if not key < median_key or math.isclose(key, median_key, rel_tol=1e-12, abs_tol=1e-15):
            return None  # equal up to rounding (a constant curve's average is not exact)
        median = median_key if goal == "maximize" else -median_key
        shown = "NaN (counts as worst)" if math.isnan(best) else _fmt(best)
        return StopDecision(
            run_id=run_id,
            policy=type(self).__name__,
            interval=interval,
            value=best,
            threshold=median,
            reason=(
                f"MedianStoppingPolicy: best {shown} over intervals 1..{interval} is worse than "
                f"{_fmt(median)}, the median of the running averages of {len(averages)} runs"
            ),
        )
