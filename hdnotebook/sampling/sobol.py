"""Sobol sampling: a scrambled low-discrepancy sequence mapped through each expression."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

from ..space import from_unit
from .base import ParameterSampling, TrialRecord


class SobolParameterSampling(ParameterSampling):
    """Quasi-random sampling that covers the space more evenly than random draws.

    Uses ``scipy.stats.qmc.Sobol`` (scrambled under the seed); trial ``i`` gets point ``i`` of the
    sequence, mapped through each expression's prior, so any mix of expressions works.
    """

    name = "sobol"

    def suggest(
        self, trials: Sequence[TrialRecord], goal: str = "maximize", count: int = 1
    ) -> list[dict[str, Any]]:
        start = len(trials)
        engine = qmc.Sobol(d=len(self.parameter_space), scramble=True, seed=self.seed)
        if start:
            engine.fast_forward(start)
        with warnings.catch_warnings():
            # trial i takes point i, so the sequence stays balanced over the whole experiment even
            # when one call asks for a count that is not a power of 2
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol", category=UserWarning)
            points: np.ndarray = engine.random(count)
        return [from_unit(self.parameter_space, p) for p in points]
