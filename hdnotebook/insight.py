"""Why the best run wins: hyperparameter importance and the 2-parameter contour, from finished trials.

The importance of a parameter is the share of the objective's variance that its main effect
explains (a first-order functional-ANOVA / Sobol' index), measured on a random-forest surrogate of
the results over the search space's own prior (its unit-cube encoding), and normalised so the
importances sum to 1, as Optuna's ``get_param_importances`` reports them.

:func:`param_contour` interpolates the objective onto a grid over two parameters (linearly between
the trials, on log axes for log expressions and over the options of a ``choice``), for the
widget's contour.

Pure: no I/O; the random forest comes from scikit-learn (the ``examples`` extra), imported only
when importances are asked for; the interpolation from scipy.

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

__all__ = ["param_importances", "param_contour", "CONTOUR_SIZE"]

#: Cells along each numeric axis of :func:`param_contour`'s grid.
CONTOUR_SIZE = 24
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


def param_contour(
    space: Mapping[str, ParameterExpression],
    configs: Sequence[Mapping[str, Any]],
    values: Sequence[float | None],
    names: Sequence[str],
    *,
    size: int = CONTOUR_SIZE,
) -> dict[str, Any]:
    """The objective over two parameters, interpolated onto a grid (JSON-ready), for a contour plot.

    Each axis is in the parameter's own values: ``size`` points evenly spaced between the lowest and
    the highest value the trials took (geometrically for a log expression: ``loguniform``,
    ``qloguniform``, ``lognormal``, ``qlognormal``), or every option of a ``choice`` in its order.
    Inside the trials' convex hull the grid is linear between them (a Delaunay triangulation in
    coordinates scaled to the unit square, log ones in log space, a choice's options at 0, 1, ...);
    outside it, each cell is the mean of its neighbours (a harmonic fill, as smooth as it can be: no
    cliffs where the nearest trial changes; at the grid's edge a missing neighbour counts as the
    cell itself). Trials at the same point are averaged. Every cell lies between the lowest and the
    highest trial value. Trials on one line give no triangle: then each cell takes the nearest
    trial's value.

    Args:
        space: the search space, ``{name: expression}``.
        configs: the configurations of the trials, each ``{name: value}``.
        values: each trial's value; ``None``, non-finite values and values of a choice's option
            that is not in the space are left out.
        names: the two parameters, ``(x, y)``.
        size: grid points along a numeric axis.

    Returns:
        ``{"x": axis, "y": axis, "z": rows, "zmin", "zmax", "trials": [[x, y, value], ...]}``
        (``trials``: the ones used, lowest value first); an axis is ``{"name", "values", "log", "categorical"}``; ``z`` has one row per ``y`` value,
        each with one value per ``x`` value.

    Raises:
        ValueError: ``names`` is not two different parameters of ``space``, ``configs`` and
            ``values`` differ in length, fewer than 3 trials have a finite value, or the trials all
            have the same value of one of the two (nothing to draw a contour over).

    >>> from hdnotebook.space import choice, loguniform
    >>> space = {"lr": loguniform(-6, -1), "act": choice("relu", "tanh")}
    >>> configs = [{"lr": lr, "act": act} for lr in (0.003, 0.03, 0.3) for act in ("relu", "tanh")]
    >>> grid = param_contour(space, configs, [c["lr"] * 10 for c in configs], ["lr", "act"], size=5)
    >>> grid["x"]["log"], grid["y"]["values"], len(grid["z"]), len(grid["z"][0])
    (True, ['relu', 'tanh'], 2, 5)
    >>> round(grid["zmin"], 6), round(grid["zmax"], 6)
    (0.03, 3.0)
    """
    from scipy.interpolate import griddata
    from scipy.spatial import QhullError

    names = list(names)
    if len(names) != 2 or names[0] == names[1] or any(n not in space for n in names):
        raise ValueError(f"param_contour needs two different parameters of the space {list(space)}, got {names}")
    if len(configs) != len(values):
        raise ValueError(f"configs and values must have the same length, got {len(configs)} and {len(values)}")
    axes = [_ContourAxis(n, space[n]) for n in names]
    points: dict[tuple[float, float], list[float]] = {}
    shown: list[list[Any]] = []
    for config, value in zip(configs, values):
        if value is None or not math.isfinite(float(value)) or any(a.name not in config for a in axes):
            continue
        coords = tuple(a.coordinate(config[a.name]) for a in axes)
        if any(c is None for c in coords):
            continue
        points.setdefault(coords, []).append(float(value))  # type: ignore[arg-type]
        shown.append([config[axes[0].name], config[axes[1].name], float(value)])
    if len(shown) < 3:
        raise ValueError(f"param_contour needs at least 3 trials with a finite value, got {len(shown)}")
    for a, k in zip(axes, range(2)):
        a.fit([p[k] for p in points], size)
        if len(a.grid) < 2:
            raise ValueError(f"param_contour needs trials with different values of {a.name!r}, all have {shown[0][k]!r}")
    ordered = sorted(points)  # the same trials in any order give the same grid, to the last bit
    xy = np.array(ordered, dtype=float)
    z = np.array([np.mean(sorted(points[p])) for p in ordered])
    gx, gy = np.meshgrid(axes[0].grid, axes[1].grid)
    grid = np.full(gx.shape, np.nan)
    if len(xy) >= 3:
        try:
            grid = griddata(xy, z, (gx, gy), method="linear", rescale=True)
        except (QhullError, ValueError):  # the trials lie on a line: no triangle to interpolate in
            pass
    outside = ~np.isfinite(grid)
    if outside.all():
        grid = griddata(xy, z, (gx, gy), method="nearest", rescale=True)
    elif outside.any():
        grid = _harmonic_fill(grid, outside)
    return {
        "x": axes[0].describe(),
        "y": axes[1].describe(),
        "z": grid.tolist(),
        "zmin": float(grid.min()),
        "zmax": float(grid.max()),
        "trials": sorted(shown, key=lambda t: (t[2], repr(t[0]), repr(t[1]))),
    }


def _harmonic_fill(grid: np.ndarray, free: np.ndarray) -> np.ndarray:
    """``grid`` with each ``free`` cell the mean of its neighbours (up, down, left, right; one past
    the edge counts as the cell itself), the other cells fixed: one sparse linear solve."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    rows, cols = grid.shape
    index = -np.ones(grid.shape, dtype=int)
    cells = np.argwhere(free)
    index[free] = np.arange(len(cells))
    a_rows: list[int] = []
    a_cols: list[int] = []
    a_vals: list[float] = []
    rhs = np.zeros(len(cells))
    for k, (i, j) in enumerate(cells):
        neighbours = [(i + di, j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                      if 0 <= i + di < rows and 0 <= j + dj < cols]
        a_rows.append(k)
        a_cols.append(k)
        a_vals.append(float(len(neighbours)))
        for n in neighbours:
            if free[n]:
                a_rows.append(k)
                a_cols.append(int(index[n]))
                a_vals.append(-1.0)
            else:
                rhs[k] += grid[n]
    matrix = coo_matrix((a_vals, (a_rows, a_cols)), shape=(len(cells), len(cells))).tocsr()
    out = grid.copy()
    out[free] = spsolve(matrix, rhs)
    return out


class _ContourAxis:
    """One axis of :func:`param_contour`: trial values to grid coordinates and back."""

    def __init__(self, name: str, expr: ParameterExpression) -> None:
        self.name = name
        self.expr = expr
        self.categorical = bool(expr.is_categorical)
        self.options = list(expr.grid_values()) if self.categorical else []
        self.log = bool(expr.is_log) and not self.categorical
        self.grid = np.zeros(1)

    def coordinate(self, value: Any) -> float | None:
        """Where ``value`` lies on the interpolation axis (``None``: it cannot be placed)."""
        if self.categorical:
            try:
                return float(self.expr.index(value))  # type: ignore[attr-defined]
            except ValueError:
                return None
        try:
            v = float(value)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(v):
            return None
        if self.log:
            return math.log10(v) if v > 0 else None
        return v

    def fit(self, coords: list[float], size: int) -> None:
        if self.categorical:
            self.grid = np.arange(len(self.options), dtype=float)
        else:
            low, high = min(coords), max(coords)
            self.grid = np.linspace(low, high, size if high > low else 1)

    def describe(self) -> dict[str, Any]:
        if self.categorical:
            values: list[Any] = list(self.options)
        elif self.log:
            values = [float(10.0**c) for c in self.grid]
        else:
            values = [float(c) for c in self.grid]
        return {"name": self.name, "values": values, "log": self.log, "categorical": self.categorical}
