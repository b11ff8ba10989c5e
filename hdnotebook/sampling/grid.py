"""Grid sampling: the full product of ``choice`` expressions, in dict order."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ..space import Choice, ParameterExpression, grid_size
from .base import ParameterSampling, TrialRecord


class GridParameterSampling(ParameterSampling):
    """Enumerate every combination of ``choice`` values, the first parameter varying slowest.

        >>> from hdnotebook import choice
        >>> s = GridParameterSampling({"a": choice(1, 2, 3), "b": choice(16, 32)})
        >>> s.max_configurations
        6
        >>> s.suggest([], count=2)
        [{'a': 1, 'b': 16}, {'a': 1, 'b': 32}]
    """

    name = "grid"

    def __init__(
        self,
        parameter_space: Mapping[str, ParameterExpression],
        seed: int | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(parameter_space, seed=seed if seed is not None else 0, properties=properties)
        bad = [
            f"{name}={expr!r}"
            for name, expr in self.parameter_space.items()
            if not isinstance(expr, Choice)
        ]
        if bad:
            raise ValueError(
                "GridParameterSampling takes choice() expressions only; not allowed: "
                + ", ".join(bad)
                + ". Use RandomParameterSampling or BayesianParameterSampling for these, or "
                "replace them with choice(...) of the values to try."
            )
        self._size = grid_size(self.parameter_space)

    @property
    def max_configurations(self) -> int:
        return self._size

    def suggest(
        self, trials: Sequence[TrialRecord], goal: str = "maximize", count: int = 1
    ) -> list[dict[str, Any]]:
        names = list(self.parameter_space)
        values = [self.parameter_space[n].grid_values() for n in names]
        # the grid in order, less the points already tried: a configuration enqueued by hand or a run
        # restarted takes its grid point's place instead of shifting the grid
        tried = {_key(names, t.params) for t in trials}
        fresh = (combo for combo in itertools.product(*values) if _key(names, dict(zip(names, combo))) not in tried)
        return [dict(zip(names, combo)) for combo in itertools.islice(fresh, count)]


def _key(names: Sequence[str], params: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple((type(params.get(n)).__name__, params.get(n)) for n in names)
