"""TruncationSelectionPolicy: at each evaluation, stop the runs in the lowest X % at that interval."""

from __future__ import annotations

from collections.abc import Hashable
from numbers import Integral
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision, shown_value, metric_key
from .population import Population

__all__ = ["TruncationSelectionPolicy"]



class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Stop a run whose value at the interval lies in the lowest ``truncation_percentage`` %.

    At interval ``k`` the judged run is ranked among ``n`` runs: itself and the population every
    policy shares (SPEC §4), i.e. the runs that reached ``k`` (their value at ``k``) and the runs
    that ended before ``k`` (completed, stopped, failed: their last value, HyperDrive's "the
    corresponding (and earlier) performance of older runs"); a run still running that has not
    reached ``k`` is left out. With rank ``i`` from the worst (0-based; ties count in the judged
    run's favour) it stops when ``i < floor(n * truncation_percentage / 100)``: the lowest X % of
    ``n`` runs holds that many whole runs. So no run is stopped until ``n >= 100 / X`` (its
    minimum of comparable runs: 4 runs for 30 %, 2 for 50 %), and the best run never is.
    NaN counts as worst.

    ``exclude_finished_jobs=True`` (Azure ML v2's option) ranks the run among the runs still
    running only, leaving out every run that has ended.

        >>> policy = TruncationSelectionPolicy(truncation_percentage=50)
        >>> histories = {"a": [0.9], "b": [0.8], "c": [0.3], "d": [0.1]}
        >>> policy.check("c", histories, "maximize").reason
        'TruncationSelectionPolicy: 0.3 at interval 1 ranks 1 from the worst of 4 runs, in the lowest 50% (2 of 4; stopped below 0.8)'
        >>> policy.check("b", histories, "maximize") is None
        True

    Args:
        truncation_percentage: X, an int from 1 to 99.
        evaluation_interval: apply the policy every Nth interval.
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation``.
        exclude_finished_jobs: leave runs that have ended out of the ranking (default False).
    """

    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
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
        if not isinstance(exclude_finished_jobs, bool):
            raise TypeError(
                f"TruncationSelectionPolicy: exclude_finished_jobs must be True or False, got {exclude_finished_jobs!r}"
            )
        self.truncation_percentage = int(truncation_percentage)
        self.exclude_finished_jobs = exclude_finished_jobs
        super().__init__(evaluation_interval, delay_evaluation)

    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        others = population.values_at(interval, exclude=run_id, include_ended=not self.exclude_finished_jobs)
        n = len(others) + 1
        cut = n * self.truncation_percentage // 100  # whole runs in the lowest X %
        if cut == 0:
            return None
        value = population.value(run_id, interval)
        key = metric_key(value, goal)
        rank = sum(1 for v in others if metric_key(v, goal) <= key)
        if rank >= cut:
            return None
        # the worst value that survives: the first run above the cut
        survivor = sorted([value, *others], key=lambda v: metric_key(v, goal))[cut]
        shown = shown_value(value)
        side = "below" if goal == "maximize" else "above"
        return StopDecision(
            run_id=run_id,  # type: ignore[arg-type]
            policy=type(self).__name__,
            interval=interval,
            value=value,
            threshold=survivor,
            reason=(
                f"TruncationSelectionPolicy: {shown} at interval {interval} ranks {rank} from the "
                f"worst of {n} runs, in the lowest {self.truncation_percentage}% "
                f"({cut} of {n}; stopped {side} {shown_value(survivor)})"
            ),
        )

    def _params(self) -> dict[str, Any]:
        params = {"truncation_percentage": self.truncation_percentage, **super()._params()}
        if self.exclude_finished_jobs:
            params["exclude_finished_jobs"] = True
        return params
