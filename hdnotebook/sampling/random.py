"""Random sampling: every parameter drawn independently from its expression."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..space import sample_configuration
from .base import ParameterSampling, TrialRecord


class RandomParameterSampling(ParameterSampling):
    """Draw each configuration at random; any mix of expressions.

    Trial ``i`` always gets the same configuration for the same seed::

        >>> from hdnotebook import choice, loguniform
        >>> s = RandomParameterSampling({"lr": loguniform(-6, -1), "bs": choice(16, 32)}, seed=1)
        >>> s.suggest([]) == s.suggest([])
        True
    """

    name = "random"

    def suggest(
        self, trials: Sequence[TrialRecord], goal: str = "maximize", count: int = 1
    ) -> list[dict[str, Any]]:
        start = len(trials)
        return [
            sample_configuration(self.parameter_space, self._rng(start + i)) for i in range(count)
        ]
