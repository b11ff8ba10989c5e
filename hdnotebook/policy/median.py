"""MedianStoppingPolicy: stop runs whose best so far is worse than the median of running averages."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision, shown_value, _check_int, metric_key
from .population import Population

__all__ = ["MedianStoppingPolicy"]



def _median(keys: Sequence[float]) -> float:
    ordered = sorted(keys)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    middle = (ordered[mid - 1] + ordered[mid]) / 2
    return ordered[mid - 1] if math.isnan(middle) else middle  # -inf and +inf: take the worse


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop a run whose best value so far is worse than the median of the other runs' running averages.

    At interval ``k`` the judged run's best value over ``1..k`` is compared with the median of
    the running averages of the *other* runs (HyperDrive: "the running averages for intervals 1:k
    across all runs"). The population (the same rule for every policy, SPEC §4): each other run
    that reached ``k`` counts with its average over ``1..k``; a run that ended before ``k``
    (completed, stopped, failed) with its average over everything it logged; a run still running
    that has not reached ``k`` is left out. The judged run is not in its own median (it would
    pull the median towards itself). The policy judges only when at least
    ``min_samples_required`` other runs are in the population. NaN counts as worst.

        >>> policy = MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=2)
        >>> histories = {"a": [0.8, 0.9], "b": [0.7, 0.8], "c": [0.6, 0.7], "d": [0.1, 0.2]}
        >>> policy.check("d", histories, "maximize").threshold
        0.75
        >>> policy.check("b", histories, "maximize") is None
        True

    Args:
        evaluation_interval: apply the policy every Nth interval.
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation``.
        min_samples_required: the fewest other runs the median is taken over before any run is
            stopped (default 3; Ray Tune's ``MedianStoppingRule`` has the same parameter and
            default). With one or two others the "median" is one run's or the mean of two runs'
            averages, and an early good run could be stopped by a single lucky one.
    """

    def __init__(
        self, evaluation_interval: int = 1, delay_evaluation: int = 0, min_samples_required: int = 3
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        self.min_samples_required = _check_int(type(self).__name__, "min_samples_required", min_samples_required, 1)

    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        averages = population.averages_at(interval, exclude=run_id)
        if len(averages) < self.min_samples_required:
            return None
        median_key = _median([metric_key(a, goal) for a in averages])
        best = population.best(run_id)
        key = metric_key(best, goal)
        if not key < median_key or math.isclose(key, median_key, rel_tol=1e-12, abs_tol=1e-15):
            return None  # equal up to rounding (a constant curve's average is not exact)
        median = median_key if goal == "maximize" else -median_key
        shown = shown_value(best)
        return StopDecision(
            run_id=run_id,  # type: ignore[arg-type]
            policy=type(self).__name__,
            interval=interval,
            value=best,
            threshold=median,
            reason=(
                f"MedianStoppingPolicy: best {shown} over intervals 1..{interval} is worse than "
                f"{shown_value(median)}, the median of the running averages of {len(averages)} other runs"
            ),
        )

    def _params(self) -> dict[str, Any]:
        params = super()._params()
        if self.min_samples_required != 3:
            params["min_samples_required"] = self.min_samples_required
        return params
