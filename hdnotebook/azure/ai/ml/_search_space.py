"""SDK v2 search-space distributions (``azure.ai.ml.sweep.Choice`` ...) over hdnotebook's expressions.

Each class keeps v2's constructor and attribute names and maps, one to one, onto an expression of
:mod:`hdnotebook.space`::

    >>> Uniform(min_value=0.5, max_value=1.5).to_expression()
    uniform(0.5, 1.5)
    >>> LogUniform(min_value=-6, max_value=-1).to_expression()   # exponents, as in v1
    loguniform(-6, -1)
    >>> Randint(upper=4).to_expression()                         # 0, 1, 2 or 3
    choice(0, 1, 2, 3)

Arguments are checked when the distribution is built; a bad one raises ``ValueError`` or
``TypeError`` naming v2's argument.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, ClassVar

from .... import space as _space
from ....space import ParameterExpression

__all__ = [
    "SweepDistribution",
    "Choice",
    "Randint",
    "Uniform",
    "LogUniform",
    "QUniform",
    "QLogUniform",
    "Normal",
    "LogNormal",
    "QNormal",
    "QLogNormal",
    "scale_log_base",
]


class SweepDistribution:
    """Base class of the v2 distributions: ``type`` is v2's lowercase name (``"uniform"`` ...)."""

    type: ClassVar[str] = ""
    #: v2 argument name -> hdnotebook argument name, for error messages
    _renamed: ClassVar[dict[str, str]] = {}

    def _arguments(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_expression(self) -> ParameterExpression:
        """The hdnotebook expression this distribution is."""
        raise NotImplementedError

    def _checked(self) -> None:
        try:
            self.to_expression()
        except (TypeError, ValueError) as exc:
            renamed = ", ".join(f"{v2} is {ours}" for v2, ours in self._renamed.items())
            hint = f" ({renamed} there)" if renamed else ""
            raise type(exc)(f"{self!r}: {exc}{hint}") from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._arguments() == self._arguments()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self._arguments())))


class Choice(SweepDistribution):
    """One of ``values``: ``Choice(values=["linear", "rbf"])`` (also ``Choice(["linear", "rbf"])``)."""

    type = "choice"

    def __init__(self, values: list[Any] | None = None, **kwargs: Any) -> None:
        _no_extra("Choice", kwargs)
        if values is None or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"Choice(values=...): values must be a list such as ['linear', 'rbf'], got {values!r}")
        self.values = list(values)
        for value in self.values:
            if isinstance(value, dict):
                raise TypeError(
                    "Choice(values=...): nested search spaces (a dict as a value) are not supported here; "
                    f"got {value!r}. Sweep each of them as its own input instead"
                )
        self._checked()

    def _arguments(self) -> dict[str, Any]:
        return {"values": self.values}

    def to_expression(self) -> ParameterExpression:
        return _space.choice(self.values)


class Randint(SweepDistribution):
    """A whole number from 0 to ``upper - 1``, each equally likely."""

    type = "randint"

    def __init__(self, upper: int | None = None, **kwargs: Any) -> None:
        _no_extra("Randint", kwargs)
        if isinstance(upper, bool) or not isinstance(upper, Integral):
            raise TypeError(f"Randint(upper=...): upper must be an int >= 1, got {upper!r}")
        if upper < 1:
            raise ValueError(f"Randint(upper=...): upper must be >= 1 (values are 0 .. upper - 1), got {upper!r}")
        self.upper = int(upper)

    def _arguments(self) -> dict[str, Any]:
        return {"upper": self.upper}

    def to_expression(self) -> ParameterExpression:
        return _space.choice(range(self.upper))


class Uniform(SweepDistribution):
    """Uniform between ``min_value`` and ``max_value``."""

    type = "uniform"
    _renamed = {"min_value": "low", "max_value": "high"}
    _maker = staticmethod(_space.uniform)

    def __init__(self, min_value: float | None = None, max_value: float | None = None, **kwargs: Any) -> None:
        _no_extra(type(self).__name__, kwargs)
        self.min_value = min_value
        self.max_value = max_value
        self._checked()

    def _arguments(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value}

    def to_expression(self) -> ParameterExpression:
        return self._maker(self.min_value, self.max_value)


class LogUniform(Uniform):
    """``exp(uniform(min_value, max_value))``: the bounds are **exponents** (natural log)."""

    type = "loguniform"
    _maker = staticmethod(_space.loguniform)


class QUniform(Uniform):
    """``round(uniform(min_value, max_value) / q) * q``."""

    type = "quniform"
    _renamed = {"min_value": "low", "max_value": "high"}
    _qmaker = staticmethod(_space.quniform)

    def __init__(
        self, min_value: float | None = None, max_value: float | None = None, q: int | None = None, **kwargs: Any
    ) -> None:
        self.q = q
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def _arguments(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "q": self.q}

    def to_expression(self) -> ParameterExpression:
        return self._qmaker(self.min_value, self.max_value, self.q)


class QLogUniform(QUniform):
    """``round(exp(uniform(min_value, max_value)) / q) * q``: the bounds are exponents."""

    type = "qloguniform"
    _qmaker = staticmethod(_space.qloguniform)


class Normal(SweepDistribution):
    """Normal with mean ``mu`` and standard deviation ``sigma``."""

    type = "normal"
    _maker = staticmethod(_space.normal)

    def __init__(self, mu: float | None = None, sigma: float | None = None, **kwargs: Any) -> None:
        _no_extra(type(self).__name__, kwargs)
        self.mu = mu
        self.sigma = sigma
        self._checked()

    def _arguments(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma}

    def to_expression(self) -> ParameterExpression:
        return self._maker(self.mu, self.sigma)


class LogNormal(Normal):
    """``exp(normal(mu, sigma))``."""

    type = "lognormal"
    _maker = staticmethod(_space.lognormal)


class QNormal(Normal):
    """``round(normal(mu, sigma) / q) * q``."""

    type = "qnormal"
    _qmaker = staticmethod(_space.qnormal)

    def __init__(self, mu: float | None = None, sigma: float | None = None, q: int | None = None, **kwargs: Any) -> None:
        self.q = q
        super().__init__(mu=mu, sigma=sigma, **kwargs)

    def _arguments(self) -> dict[str, Any]:
        return {"mu": self.mu, "sigma": self.sigma, "q": self.q}

    def to_expression(self) -> ParameterExpression:
        return self._qmaker(self.mu, self.sigma, self.q)


class QLogNormal(QNormal):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    type = "qlognormal"
    _qmaker = staticmethod(_space.qlognormal)


def _no_extra(owner: str, kwargs: dict[str, Any]) -> None:
    """v2 passes ``type=`` through ``**kwargs``; anything else is a mistake worth naming."""
    extra = sorted(k for k in kwargs if k != "type")
    if extra:
        raise TypeError(f"{owner}() got unexpected argument(s) {extra}")


#: the distributions whose bounds are exponents, and so change with ``logbase``
_LOG_KINDS = (LogUniform, QLogUniform, LogNormal, QLogNormal)


def scale_log_base(distribution: SweepDistribution, logbase: float | str | None) -> ParameterExpression:
    """The expression of ``distribution`` under ``RandomSamplingAlgorithm(logbase=...)``.

    ``base ** x == exp(x * ln(base))``, so a log distribution in another base is the natural-log
    one with its exponents (``min_value``/``max_value``, or ``mu``/``sigma``) times ``ln(base)``;
    ``None`` and ``"e"`` leave it as it is::

        >>> scale_log_base(LogUniform(min_value=-3, max_value=-1), 10)
        loguniform(-6.907755278982138, -2.302585092994046)
    """
    if logbase is None or logbase == "e" or not isinstance(distribution, _LOG_KINDS):
        return distribution.to_expression()
    factor = math.log(_check_log_base(logbase))
    if isinstance(distribution, QLogUniform):
        return _space.qloguniform(distribution.min_value * factor, distribution.max_value * factor, distribution.q)
    if isinstance(distribution, LogUniform):
        return _space.loguniform(distribution.min_value * factor, distribution.max_value * factor)
    if isinstance(distribution, QLogNormal):
        return _space.qlognormal(distribution.mu * factor, distribution.sigma * factor, distribution.q)
    return _space.lognormal(distribution.mu * factor, distribution.sigma * factor)  # type: ignore[union-attr]


def _check_log_base(logbase: Any) -> float:
    if isinstance(logbase, bool) or not isinstance(logbase, Real) or not math.isfinite(logbase) \
            or logbase <= 0 or logbase == 1:
        raise ValueError(
            f"RandomSamplingAlgorithm(logbase=...): logbase must be a positive number other than 1, "
            f"or 'e'; got {logbase!r}"
        )
    return float(logbase)


#: every v2 distribution class by its ``type`` (for specs read back from the store)
DISTRIBUTIONS: dict[str, type[SweepDistribution]] = {
    cls.type: cls
    for cls in (Choice, Randint, Uniform, LogUniform, QUniform, QLogUniform, Normal, LogNormal, QNormal, QLogNormal)
}
