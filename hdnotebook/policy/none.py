"""NoTerminationPolicy: every run completes."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision
from .population import Population

__all__ = ["NoTerminationPolicy"]


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Never stop a run early; every run completes.

    It compares nothing, so the population rule every policy shares (SPEC §4) has nothing to
    decide here, at any concurrency.

        >>> NoTerminationPolicy().check("a", {"a": [0.0], "b": [1.0]}, "maximize") is None
        True
        >>> NoTerminationPolicy()
        NoTerminationPolicy()
    """

    def __init__(self) -> None:
        super().__init__(evaluation_interval=1, delay_evaluation=0)

    def is_evaluation_point(self, interval: int) -> bool:
        return False

    def check(
        self,
        run_id: Hashable,
        histories: Mapping[Hashable, Sequence[float]],
        goal: Any,
        ended: Collection[Hashable] = (),
    ) -> StopDecision | None:
        return None

    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        return None

    def _params(self) -> dict[str, Any]:
        return {}
