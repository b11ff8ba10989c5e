"""NoTerminationPolicy: every run completes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision

__all__ = ["NoTerminationPolicy"]


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Never stop a run early; every run completes.

        >>> NoTerminationPolicy().check("a", {"a": [0.0], "b": [1.0]}, "maximize") is None
        True
        >>> NoTerminationPolicy()
        NoTerminationPolicy()
    """

    def __init__(self) -> None:
        super().__init__(evaluation_interval=1, delay_evaluation=0)

    def check(
        self, run_id: str, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        return None

    def _decide(
        self, run_id: str, interval: int, histories: Mapping[str, Sequence[float]], goal: str
    ) -> StopDecision | None:
        return None

    def _params(self) -> dict[str, Any]:
        return {}
