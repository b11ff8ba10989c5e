"""BanditPolicy: stop runs that fall outside a slack of the best run at the same interval."""

from __future__ import annotations

import math
from collections.abc import Hashable
from numbers import Real
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision, shown_value, metric_key
from .population import Population

__all__ = ["BanditPolicy"]



def _check_slack(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"BanditPolicy: {name} must be a number > 0 (e.g. 0.1), got {value!r}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"BanditPolicy: {name} must be a finite number > 0 (e.g. 0.1), got {value!r}")
    return value


class BanditPolicy(EarlyTerminationPolicy):
    """Stop a run whose metric falls outside the slack of the best run at that interval (SPEC §4).

    Give exactly one slack. Maximising, with a best value of 0.8 at interval 10,
    ``slack_factor=0.2`` stops runs below ``0.8 / (1 + 0.2) ≈ 0.667`` and ``slack_amount=0.2``
    stops runs below ``0.8 - 0.2 = 0.6``. Minimising mirrors it: ``best * (1 + slack_factor)`` or
    ``best + slack_amount``, and runs above the threshold stop. With a negative best value the
    slack factor is applied the other way round (multiply instead of divide) so that the threshold
    always lies on the worse side of the best run.

    The best run at interval ``k`` is taken over the population every policy shares (SPEC §4):
    the runs that reached ``k`` (their value at ``k``) and the runs that ended before ``k``
    (completed, stopped, failed: their last value); a run still running that has not reached
    ``k`` is left out. A run is judged once at least one other run is in that population (alone,
    it is its own best).

        >>> policy = BanditPolicy(slack_factor=0.2)
        >>> policy.check("b", {"a": [0.8], "b": [0.55]}, "maximize").threshold
        0.6666666666666667
        >>> policy.check("b", {"a": [0.8], "b": [0.7]}, "maximize") is None
        True

    Args:
        slack_factor: allowed slack as a ratio of the best value.
        slack_amount: allowed slack as an absolute difference from the best value.
        evaluation_interval: apply the policy every Nth interval.
        delay_evaluation: first apply it at the first multiple of ``evaluation_interval`` that is
            ``>= delay_evaluation``.
    """

    def __init__(
        self,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
    ) -> None:
        if (slack_factor is None) == (slack_amount is None):
            given = "both" if slack_factor is not None else "neither"
            raise ValueError(
                "BanditPolicy needs exactly one of slack_factor and slack_amount, got "
                f"{given}; e.g. BanditPolicy(slack_factor=0.1) or BanditPolicy(slack_amount=0.2)"
            )
        self.slack_factor = None if slack_factor is None else _check_slack("slack_factor", slack_factor)
        self.slack_amount = None if slack_amount is None else _check_slack("slack_amount", slack_amount)
        super().__init__(evaluation_interval, delay_evaluation)

    def threshold(self, best: float, goal: str) -> tuple[float, str]:
        """The value a run must reach given the ``best`` value, and how it was computed."""
        worse = -1.0 if goal == "maximize" else 1.0  # the direction that is worse
        if self.slack_amount is not None:
            op = "-" if worse < 0 else "+"
            return best + worse * self.slack_amount, f"best {shown_value(best)} {op} slack_amount {shown_value(self.slack_amount)}"
        factor = 1.0 + self.slack_factor  # type: ignore[operator]
        if (best >= 0) == (worse < 0):  # maximise a positive value, or minimise a negative one
            return best / factor, f"best {shown_value(best)} / (1 + slack_factor {shown_value(self.slack_factor)})"  # type: ignore[arg-type]
        return best * factor, f"best {shown_value(best)} * (1 + slack_factor {shown_value(self.slack_factor)})"  # type: ignore[arg-type]

    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        others = population.values_at(interval, exclude=run_id)
        if not others:
            return None
        value = population.value(run_id, interval)
        best = max([value, *others], key=lambda v: metric_key(v, goal))
        if math.isnan(best):
            return None  # every run is NaN here: nothing to compare against
        threshold, how = self.threshold(float(best), goal)
        key, limit = metric_key(value, goal), metric_key(threshold, goal)
        if not key < limit or math.isclose(key, limit, rel_tol=1e-12, abs_tol=1e-15):
            return None  # on the threshold up to rounding (0.8 - 0.2 is 0.6000000000000001)
        side = "below" if goal == "maximize" else "above"
        shown = shown_value(value)
        return StopDecision(
            run_id=run_id,  # type: ignore[arg-type]
            policy=type(self).__name__,
            interval=interval,
            value=value,
            threshold=threshold,
            reason=(
                f"BanditPolicy: {shown} at interval {interval} is {side} {shown_value(threshold)} ({how})"
            ),
        )

    def _params(self) -> dict[str, Any]:
        slack = (
            {"slack_factor": self.slack_factor}
            if self.slack_factor is not None
            else {"slack_amount": self.slack_amount}
        )
        return {**slack, **super()._params()}
