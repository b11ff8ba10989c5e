"""Why the best run wins: hyperparameter importance from finished trials.

The importance of a parameter is the share of the objective's variance that its main effect
explains (a first-order functional-ANOVA / Sobol' index), measured on a random-forest surrogate of
the results over the search space's own prior (its unit-cube encoding), and normalised so the
importances sum to 1, as Optuna's ``get_param_importances`` reports them.

Pure: no I/O; the random forest comes from scikit-learn (the ``examples`` extra), imported only
when importances are asked for.

>>> from hdnotebook.space import choice, uniform
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> space = {"lr": uniform(0, 1), "noise": uniform(0, 1), "act": choice("relu", "tanh")}
>>> configs = [{name: expr.sample(rng) for name, expr in space.items()} for _ in range(60)]
>>> values = [10 * c["lr"] + (1.0 if c["act"] == "relu" else 0.0) for c in configs]
>>> ranking = param_importances(space, configs, values)
>>> list(ranking)[0], list(ranking)[-1]
('lr', 'noise')
>>> round(sum(ranking.values()), 6)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .space import ParameterExpression

#: Points of the prior over which the other parameters are averaged out.
_SAMPLES = 256
#: Strata of a parameter's prior at which its main effect is evaluated.
_LEVELS = 32


def param_importances(
    space: Mapping[str, ParameterExpression],
    configs: Sequence[Mapping[str, Any]],
    values: Sequence[float | None],
    *,
    n_trees: int = 64,
    seed: int = 0,
) -> dict[str, float]:
    """The importance of each parameter of ``space``, most important first, summing to 1.

    Args:
        space: the search space, ``{name: expression}``.
        configs: the configurations of the finished trials, each ``{name: value}``.
        values: each trial's value of the primary metric (the goal does not matter: importance is
            about variance); ``None`` and non-finite values are left out.
        n_trees: trees in the random-forest surrogate.
        seed: seeds the forest and the Monte-Carlo sample, so the same trials give the same answer.

    Raises:
        ValueError: fewer than 2 trials with a finite value, or ``configs`` and ``values`` differ in
            length.
        ImportError: scikit-learn is not installed (``pip install "hdnotebook[examples]"``).
    """
    if len(configs) != len(values):
        raise ValueError(f"configs and values must have the same length, got {len(configs)} and {len(values)}")
    names = list(space)
    keep = [i for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
    if len(keep) < 2:
        raise ValueError(f"param_importances needs at least 2 trials with a finite value, got {len(keep)}")
    if not names:
        return {}
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError(
            "hyperparameter importance fits a random forest from scikit-learn: "
            'pip install "hdnotebook[examples]" (or scikit-learn)'
        ) from exc
    x = np.array([[space[n].to_unit(configs[i][n]) for n in names] for i in keep], dtype=float)
    y = np.array([float(values[i]) for i in keep])
    if np.ptp(y) == 0.0:
        return {n: 1.0 / len(names) for n in names}
    forest = RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1)
    forest.fit(x, y)
    rng = np.random.default_rng(seed)
    others = _prior_sample(space, names, rng, _SAMPLES)
    effects = np.zeros(len(names))
    for j, name in enumerate(names):
        levels, weights = _levels(space[name], rng)
        means = np.empty(len(levels))
        for k, level in enumerate(levels):
            probe = others.copy()
            probe[:, j] = level
            means[k] = forest.predict(probe).mean()  # the main effect of ``name`` at this level
        centred = means - np.average(means, weights=weights)
        effects[j] = float(np.average(centred**2, weights=weights))
    if effects.sum() <= 0:
        return {n: 1.0 / len(names) for n in names}
    shares = effects / effects.sum()
    order = sorted(range(len(names)), key=lambda j: (-shares[j], j))
    return {names[j]: float(shares[j]) for j in order}


def _prior_sample(
    space: Mapping[str, ParameterExpression], names: list[str], rng: np.random.Generator, rows: int
) -> np.ndarray:
    """``rows`` points of the space's prior in its unit encoding (discrete values kept exact)."""
    u = rng.random((rows, len(names)))
    for j, name in enumerate(names):
        expr = space[name]
        if expr.is_discrete:
            u[:, j] = [expr.to_unit(expr.from_unit(float(v))) for v in u[:, j]]
    return u


def _levels(expr: ParameterExpression, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Where to evaluate a parameter's main effect, in its unit encoding, with the prior's weights."""
    u = (np.arange(_LEVELS) + rng.random(_LEVELS)) / _LEVELS  # one stratified draw per stratum
    if not expr.is_discrete:
        return u, np.ones(_LEVELS)
    encoded = np.array([expr.to_unit(expr.from_unit(float(v))) for v in u])
    levels, counts = np.unique(encoded, return_counts=True)
    return levels, counts.astype(float)
