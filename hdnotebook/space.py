"""Parameter expressions: the search space of an experiment (SPEC §1).

A search space is a dict ``{name: expression}``. Each expression validates its arguments when it is
built, samples from a seedable :class:`numpy.random.Generator`, and maps values to and from the unit
interval, which is where the Bayesian sampler works::

    >>> import numpy as np
    >>> space = {"learning_rate": loguniform(-6, -1), "batch_size": choice(16, 32, 64, 128)}
    >>> rng = np.random.default_rng(0)
    >>> config = sample_configuration(space, rng)
    >>> sorted(config)
    ['batch_size', 'learning_rate']
    >>> repr(space["learning_rate"])
    'loguniform(-6, -1)'

The q-forms round to multiples of ``q``: ``quniform(low, high, q) = round(uniform(low, high) / q) * q``.
When ``q`` is an ``int`` the values are ``int`` too (so ``--batch_size 32`` reaches a script, not
``32.0``). ``loguniform(low, high)`` takes **exponents**: its values lie in ``[exp(low), exp(high)]``.

This module is part of the pure core: no threads, no files, no I/O.
"""

from __future__ import annotations

import ast
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.special import ndtr, ndtri

from ._format import json_value

__all__ = [
    "ParameterExpression",
    "choice",
    "randint",
    "uniform",
    "loguniform",
    "normal",
    "lognormal",
    "quniform",
    "qloguniform",
    "qnormal",
    "qlognormal",
    "EXPRESSIONS",
    "check_configuration",
    "expression_from_repr",
    "param_axes",
    "validate_space",
    "sample_configuration",
    "grid_size",
    "iter_grid",
    "to_unit",
    "from_unit",
]

_EPS = 1e-12


def _clip(value: Any, low: float, high: float) -> float:
    """``value`` as a float within ``[low, high]`` (NaN stays NaN); ``np.clip`` costs 30x more on scalars."""
    return float(min(max(float(value), low), high))


def _check_number(expr: str, arg: str, value: Any) -> float:
    """Return ``value`` as a float, or raise naming the expression, the argument and the value."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{expr}(): {arg} must be a real number, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"{expr}(): {arg} must be finite, got {value!r}")
    return float(value)


def _check_positive(expr: str, arg: str, value: Any) -> float:
    number = _check_number(expr, arg, value)
    if number <= 0:
        raise ValueError(f"{expr}(): {arg} must be > 0, got {value!r}")
    return number


def _check_bounds(expr: str, low: Any, high: Any) -> tuple[float, float]:
    lo = _check_number(expr, "low", low)
    hi = _check_number(expr, "high", high)
    if lo >= hi:
        raise ValueError(f"{expr}(): low must be < high, got low={low!r}, high={high!r}")
    return lo, hi


def _fmt(value: Any) -> str:
    return repr(value)


class ParameterExpression(ABC):
    """Base class of every search-space expression.

    Subclasses set ``kind`` (the function name of SPEC §1) and implement :meth:`sample`,
    :meth:`to_unit`, :meth:`from_unit` and :meth:`contains`.

    Attributes:
        is_discrete: the expression has a countable set of values (choice and the q-forms).
        is_log: the unit-interval encoding is on a log scale.
        is_categorical: values are unordered labels (``choice``).
    """

    kind: ClassVar[str] = ""
    is_discrete: ClassVar[bool] = False
    is_log: ClassVar[bool] = False
    is_categorical: ClassVar[bool] = False

    _args: tuple[Any, ...] = ()

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value with ``rng``."""
        return self.from_unit(float(rng.random()))

    # -- unit-interval encoding ------------------------------------------------------------------
    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """Map a value of this expression to ``[0, 1]`` (inverse of :meth:`from_unit`)."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """Map ``u`` in ``[0, 1]`` to a value of this expression; uniform ``u`` gives its prior."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a value this expression can produce."""

    def grid_values(self) -> list[Any]:
        """All values, for grid sampling; only ``choice`` has them."""
        raise TypeError(
            f"{self!r} is continuous or unbounded; grid sampling takes choice() expressions only"
        )

    # -- identity --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(_fmt(a) for a in self._args)})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and _args_key(other._args) == _args_key(self._args)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, _args_key(self._args)))


def _args_key(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple((type(a).__name__, a) for a in args)


# ---------------------------------------------------------------------------------------------
# discrete: choice
# ---------------------------------------------------------------------------------------------
_CHOICE_TYPES = (str, bool, int, float, type(None))


class Choice(ParameterExpression):
    """``choice(*values)``: one of the given values, each equally likely."""

    kind = "choice"
    is_discrete = True
    is_categorical = True

    def __init__(self, *values: Any) -> None:
        if len(values) == 1 and isinstance(values[0], (range, list, tuple)):
            values = tuple(values[0])
        if not values:
            raise ValueError(
                "choice(): needs at least one value, e.g. choice(16, 32, 64), choice(range(1, 5)) "
                "or choice([0.1, 0.2]); got none"
            )
        for v in values:
            if isinstance(v, Integral) and not isinstance(v, bool):
                continue
            if not isinstance(v, _CHOICE_TYPES):
                raise TypeError(
                    f"choice(): values must be str, bool, int, float or None, got {v!r} "
                    f"({type(v).__name__})"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"choice(): values must be finite, got {v!r}")
        self.values: tuple[Any, ...] = tuple(int(v) if isinstance(v, Integral) and not isinstance(v, bool) else v for v in values)
        keys = [_value_key(v) for v in self.values]
        if len(set(keys)) != len(keys):
            dupes = sorted({repr(v) for v, k in zip(self.values, keys) if keys.count(k) > 1})
            raise ValueError(f"choice(): values must be distinct, got duplicates {', '.join(dupes)}")
        self._args = self.values

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (type-aware: ``True`` is not ``1``)."""
        key = _value_key(value)
        for i, v in enumerate(self.values):
            if _value_key(v) == key:
                return i
        raise ValueError(f"{value!r} is not one of {self!r}")

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.values)

    def from_unit(self, u: float) -> Any:
        i = min(int(float(u) * len(self.values)), len(self.values) - 1)
        return self.values[max(i, 0)]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except ValueError:
            return False
        return True

    def grid_values(self) -> list[Any]:
        return list(self.values)


def _value_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (Integral, Real)):
        return ("number", float(value))
    return (type(value).__name__, repr(value))


# ---------------------------------------------------------------------------------------------
# continuous
# ---------------------------------------------------------------------------------------------
class Uniform(ParameterExpression):
    """``uniform(low, high)``: a float uniformly between low and high."""

    kind = "uniform"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = _check_bounds(self.kind, low, high)
        self._args = (low, high)

    def _raw_from_unit(self, u: float) -> float:
        return self.low + _clip(u, 0.0, 1.0) * (self.high - self.low)

    def _raw_to_unit(self, x: float) -> float:
        return _clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def from_unit(self, u: float) -> Any:
        return self._raw_from_unit(u)

    def to_unit(self, value: Any) -> float:
        return self._raw_to_unit(float(value))

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= float(value) <= self.high


class LogUniform(Uniform):
    """``loguniform(low, high) = exp(uniform(low, high))``: low and high are exponents."""

    kind = "loguniform"
    is_log = True

    def from_unit(self, u: float) -> Any:
        return math.exp(self._raw_from_unit(u))

    def to_unit(self, value: Any) -> float:
        return self._raw_to_unit(math.log(max(float(value), 1e-300)))

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or float(value) <= 0:
            return False
        x = math.log(float(value))
        return self.low - 1e-9 <= x <= self.high + 1e-9


class Normal(ParameterExpression):
    """``normal(mu, sigma)``: a normally distributed float.

    The unit encoding is the normal CDF, so a uniform ``u`` reproduces the prior.
    """

    kind = "normal"

    def __init__(self, mu: float, sigma: float) -> None:
        self.mu = _check_number(self.kind, "mu", mu)
        self.sigma = _check_positive(self.kind, "sigma", sigma)
        self._args = (mu, sigma)

    def sample(self, rng: np.random.Generator) -> Any:
        return self._finish(float(rng.normal(self.mu, self.sigma)))

    def _finish(self, x: float) -> Any:
        return x

    def _raw_from_unit(self, u: float) -> float:
        return self.mu + self.sigma * float(ndtri(_clip(u, _EPS, 1 - _EPS)))

    def _raw_to_unit(self, x: float) -> float:
        return _clip(ndtr((x - self.mu) / self.sigma), _EPS, 1 - _EPS)

    def from_unit(self, u: float) -> Any:
        return self._finish(self._raw_from_unit(u))

    def to_unit(self, value: Any) -> float:
        return self._raw_to_unit(float(value))

    def contains(self, value: Any) -> bool:
        return _is_number(value) and math.isfinite(float(value))


class LogNormal(Normal):
    """``lognormal(mu, sigma) = exp(normal(mu, sigma))``."""

    kind = "lognormal"
    is_log = True

    def _finish(self, x: float) -> Any:
        return math.exp(x)

    def sample(self, rng: np.random.Generator) -> Any:
        return math.exp(float(rng.normal(self.mu, self.sigma)))

    def to_unit(self, value: Any) -> float:
        return self._raw_to_unit(math.log(max(float(value), 1e-300)))

    def contains(self, value: Any) -> bool:
        return _is_number(value) and float(value) > 0 and math.isfinite(float(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# quantised: round(x / q) * q
# ---------------------------------------------------------------------------------------------
class _Quantised:
    """Mixin: rounds the parent's values to multiples of ``q``."""

    kind: ClassVar[str]
    is_discrete = True
    q: float
    _int_valued: bool

    def _init_q(self, q: Any) -> None:
        self.q = _check_positive(self.kind, "q", q)
        self._int_valued = isinstance(q, Integral) and not isinstance(q, bool)

    def _round(self, x: float) -> Any:
        k = float(np.round(x / self.q))
        if self._int_valued:
            return int(k) * int(self.q)
        value = k * self.q
        return float(round(value, 12)) if value != 0 else 0.0

    def _is_multiple(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        ratio = float(value) / self.q
        return abs(ratio - round(ratio)) <= 1e-6 * max(1.0, abs(ratio))


class QUniform(_Quantised, Uniform):
    """``quniform(low, high, q) = round(uniform(low, high) / q) * q``."""

    kind = "quniform"

    def __init__(self, low: float, high: float, q: float) -> None:
        Uniform.__init__(self, low, high)
        self._init_q(q)
        self._args = (low, high, q)

    def from_unit(self, u: float) -> Any:
        return self._round(self._raw_from_unit(u))

    def contains(self, value: Any) -> bool:
        lo = np.round(self.low / self.q) * self.q
        hi = np.round(self.high / self.q) * self.q
        return self._is_multiple(value) and lo - 1e-9 <= float(value) <= hi + 1e-9


class QLogUniform(_Quantised, LogUniform):
    """``qloguniform(low, high, q) = round(exp(uniform(low, high)) / q) * q``."""

    kind = "qloguniform"

    def __init__(self, low: float, high: float, q: float) -> None:
        LogUniform.__init__(self, low, high)
        self._init_q(q)
        self._args = (low, high, q)

    def from_unit(self, u: float) -> Any:
        return self._round(math.exp(self._raw_from_unit(u)))

    def contains(self, value: Any) -> bool:
        lo = np.round(math.exp(self.low) / self.q) * self.q
        hi = np.round(math.exp(self.high) / self.q) * self.q
        return self._is_multiple(value) and lo - 1e-9 <= float(value) <= hi + 1e-9


class QNormal(_Quantised, Normal):
    """``qnormal(mu, sigma, q) = round(normal(mu, sigma) / q) * q``."""

    kind = "qnormal"

    def __init__(self, mu: float, sigma: float, q: float) -> None:
        Normal.__init__(self, mu, sigma)
        self._init_q(q)
        self._args = (mu, sigma, q)

    def _finish(self, x: float) -> Any:
        return self._round(x)

    def contains(self, value: Any) -> bool:
        return self._is_multiple(value)


class QLogNormal(_Quantised, LogNormal):
    """``qlognormal(mu, sigma, q) = round(exp(normal(mu, sigma)) / q) * q``."""

    kind = "qlognormal"

    def __init__(self, mu: float, sigma: float, q: float) -> None:
        LogNormal.__init__(self, mu, sigma)
        self._init_q(q)
        self._args = (mu, sigma, q)

    def _finish(self, x: float) -> Any:
        return self._round(math.exp(x))

    def sample(self, rng: np.random.Generator) -> Any:
        return self._round(math.exp(float(rng.normal(self.mu, self.sigma))))

    def contains(self, value: Any) -> bool:
        return self._is_multiple(value) and float(value) >= 0


class RandInt(ParameterExpression):
    """``randint(upper)``: an integer in ``[0, upper)``, each equally likely (HyperDrive SDK v1).

    Nearby integers are not assumed to behave alike (a random seed, say); the unit-cube encoding
    keeps one coordinate, so a large ``upper`` costs nothing. Grid sampling does not take it.
    """

    kind = "randint"
    is_discrete = True

    def __init__(self, upper: Any) -> None:
        if isinstance(upper, bool) or not isinstance(upper, Integral) or upper <= 0:
            raise ValueError(f"randint(upper): upper must be a positive int (the exclusive bound), got {upper!r}")
        self.upper = int(upper)
        self._args = (self.upper,)

    def sample(self, rng: np.random.Generator) -> Any:
        return int(rng.integers(self.upper))

    def to_unit(self, value: Any) -> float:
        return (int(value) + 0.5) / self.upper

    def from_unit(self, u: float) -> Any:
        return max(0, min(int(float(u) * self.upper), self.upper - 1))

    def contains(self, value: Any) -> bool:
        return isinstance(value, Integral) and not isinstance(value, bool) and 0 <= value < self.upper


# ---------------------------------------------------------------------------------------------
# the public constructors of SPEC §1
# ---------------------------------------------------------------------------------------------
def choice(*values: Any) -> Choice:
    """One of ``values``: ``choice(16, 32, 64)``, ``choice(range(1, 5))``, ``choice([0.1, 0.2])``."""
    return Choice(*values)


def randint(upper: int) -> RandInt:
    """An integer in ``[0, upper)``, each equally likely: ``randint(1000)`` for a seed."""
    return RandInt(upper)


def uniform(low: float, high: float) -> Uniform:
    """A float uniformly distributed between ``low`` and ``high``: ``uniform(0.05, 0.1)``."""
    return Uniform(low, high)


def loguniform(low: float, high: float) -> LogUniform:
    """``exp(uniform(low, high))``; ``loguniform(-6, -1)`` spans ``e**-6`` to ``e**-1``."""
    return LogUniform(low, high)


def normal(mu: float, sigma: float) -> Normal:
    """A normally distributed float: ``normal(10, 3)``."""
    return Normal(mu, sigma)


def lognormal(mu: float, sigma: float) -> LogNormal:
    """``exp(normal(mu, sigma))``: ``lognormal(0, 1)``."""
    return LogNormal(mu, sigma)


def quniform(low: float, high: float, q: float) -> QUniform:
    """``round(uniform(low, high) / q) * q``: ``quniform(0, 100, 1)``; an int ``q`` gives ints."""
    return QUniform(low, high, q)


def qloguniform(low: float, high: float, q: float) -> QLogUniform:
    """``round(exp(uniform(low, high)) / q) * q``: ``qloguniform(0, 5, 1)``."""
    return QLogUniform(low, high, q)


def qnormal(mu: float, sigma: float, q: float) -> QNormal:
    """``round(normal(mu, sigma) / q) * q``: ``qnormal(10, 3, 1)``."""
    return QNormal(mu, sigma, q)


def qlognormal(mu: float, sigma: float, q: float) -> QLogNormal:
    """``round(exp(normal(mu, sigma)) / q) * q``: ``qlognormal(2, 1, 1)``."""
    return QLogNormal(mu, sigma, q)


#: The expression constructors by name, as the magic and the widget spell them.
EXPRESSIONS: dict[str, Any] = {
    "choice": choice,
    "randint": randint,
    "uniform": uniform,
    "loguniform": loguniform,
    "normal": normal,
    "lognormal": lognormal,
    "quniform": quniform,
    "qloguniform": qloguniform,
    "qnormal": qnormal,
    "qlognormal": qlognormal,
}


def expression_from_repr(text: str) -> ParameterExpression:
    """Read an expression back from its ``repr`` (as stored with a run), without ``eval``.

    >>> expression_from_repr("loguniform(-6, -1)")
    loguniform(-6, -1)
    >>> expression_from_repr("choice('relu', 'tanh')").grid_values()
    ['relu', 'tanh']

    Raises:
        ValueError: ``text`` is not a call of one of :data:`EXPRESSIONS` with literal arguments.
    """
    try:
        call = ast.parse(text, mode="eval").body
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in EXPRESSIONS:
            return EXPRESSIONS[call.func.id](*(ast.literal_eval(a) for a in call.args))
    except (SyntaxError, ValueError, TypeError) as exc:
        raise ValueError(f"not a parameter expression: {text!r} ({exc})") from exc
    raise ValueError(f"not a parameter expression: {text!r}; expected one of {', '.join(EXPRESSIONS)}(...)")


def param_axes(space: Mapping[str, ParameterExpression | str]) -> list[dict[str, Any]]:
    """How every view draws each parameter: the one axis model, stored with the experiment run.

    ``space`` maps names to expressions (or their ``repr``, as stored). Each axis is ``{"name",
    "expr", "kind", "log", "categorical", "values"}``: ``log`` for log expressions (a log axis),
    ``categorical`` with ``values`` (a ``choice``'s options as JSON values, in order) for categorical
    ticks. An expression that cannot be read back is drawn as a plain linear axis.

    >>> [(a["name"], a["log"], a["categorical"], a["values"])
    ...  for a in param_axes({"lr": loguniform(-6, -1), "act": choice("relu", "tanh"), "x": "?"})]
    [('lr', True, False, None), ('act', False, True, ['relu', 'tanh']), ('x', False, False, None)]
    """
    axes = []
    for name, given in space.items():
        text = given if isinstance(given, str) else repr(given)
        axis: dict[str, Any] = {"name": name, "expr": text, "kind": None, "log": False,
                                "categorical": False, "values": None}
        try:
            expr = given if isinstance(given, ParameterExpression) else expression_from_repr(given)
        except ValueError:
            expr = None
        if expr is not None:
            axis.update(kind=expr.kind, log=bool(expr.is_log), categorical=bool(expr.is_categorical))
            if expr.is_categorical:
                axis["values"] = [json_value(v) for v in expr.grid_values()]
        axes.append(axis)
    return axes


# ---------------------------------------------------------------------------------------------
# whole spaces
# ---------------------------------------------------------------------------------------------
def validate_space(space: Any) -> dict[str, ParameterExpression]:
    """Check that ``space`` is a non-empty dict of ``{str: expression}`` and return a copy.

    Raises:
        TypeError: naming the offending key or value and the expressions allowed.
        ValueError: for an empty space.
    """
    if not isinstance(space, Mapping):
        raise TypeError(
            "the search space must be a dict {name: expression}, e.g. "
            f'{{"learning_rate": loguniform(-6, -1)}}; got {type(space).__name__}'
        )
    if not space:
        raise ValueError("the search space is empty: give at least one {name: expression}")
    checked: dict[str, ParameterExpression] = {}
    for name, expr in space.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"search-space names must be non-empty strings, got {name!r}")
        if not isinstance(expr, ParameterExpression):
            allowed = ", ".join(EXPRESSIONS)
            raise TypeError(
                f"search space: {name!r} must be a parameter expression ({allowed}), got "
                f"{expr!r} ({type(expr).__name__}); wrap fixed values as choice({expr!r})"
            )
        checked[name] = expr
    return checked


def check_configuration(space: Mapping[str, ParameterExpression], config: Any) -> dict[str, Any]:
    """Check that ``config`` is one configuration of ``space``; returns it in the space's order.

    Every name of the space must be given, no other, each with a value its expression can produce
    (what ``enqueue`` runs must be a point the samplers could have proposed).

    >>> check_configuration({"lr": loguniform(-6, -1), "bs": choice(16, 32)}, {"bs": 32, "lr": 0.01})
    {'lr': 0.01, 'bs': 32}
    >>> check_configuration({"bs": choice(16, 32)}, {"bs": 24})
    Traceback (most recent call last):
    ValueError: bs=24 is not a value of choice(16, 32)
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"a configuration must be a dict {{name: value}}, got {type(config).__name__}: {config!r:.200}")
    unknown = [n for n in config if n not in space]
    missing = [n for n in space if n not in config]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"not in the search space: {', '.join(map(repr, unknown))}")
        raise ValueError(
            f"a configuration needs exactly the parameters of the search space ({', '.join(map(repr, space))}); "
            + "; ".join(parts)
        )
    for name, expr in space.items():
        if not expr.contains(config[name]):
            raise ValueError(f"{name}={config[name]!r} is not a value of {expr!r}")
    return {name: config[name] for name in space}


def sample_configuration(
    space: Mapping[str, ParameterExpression], rng: np.random.Generator
) -> dict[str, Any]:
    """Draw one configuration, one value per parameter in the space's order."""
    return {name: expr.sample(rng) for name, expr in space.items()}


def grid_size(space: Mapping[str, ParameterExpression]) -> int:
    """The number of configurations of a grid over ``space`` (choice expressions only)."""
    return math.prod(len(expr.grid_values()) for expr in space.values())


def iter_grid(space: Mapping[str, ParameterExpression]) -> Iterator[dict[str, Any]]:
    """Every configuration of the grid, the first parameter varying slowest (dict order)."""
    names = list(space)
    for values in itertools.product(*(space[n].grid_values() for n in names)):
        yield dict(zip(names, values))


def to_unit(space: Mapping[str, ParameterExpression], config: Mapping[str, Any]) -> np.ndarray:
    """Encode a configuration as a point of the unit cube, one coordinate per parameter."""
    return np.array([space[n].to_unit(config[n]) for n in space], dtype=float)


def from_unit(space: Mapping[str, ParameterExpression], point: Sequence[float]) -> dict[str, Any]:
    """Decode a point of the unit cube into a configuration (inverse of :func:`to_unit`)."""
    return {n: space[n].from_unit(float(u)) for n, u in zip(space, point)}
