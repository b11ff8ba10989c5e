"""ASHA and Hyperband: asynchronous successive halving used as a stopping rule.

A run is judged at its bracket's rungs, ``min_resource * eta**s`` intervals (``eta`` is the
reduction factor); at a rung it continues only if its value there is among the top
``n // eta`` of the ``n`` runs of its bracket at that rung. This follows Optuna's
``SuccessiveHalvingPruner`` and ``HyperbandPruner``, with the population rule every policy here
shares (SPEC §4): the runs at a rung are those that reached it and those that ended before it
(stopped at a lower rung, completed, failed), the latter with their last value.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable
from functools import lru_cache
from numbers import Integral
from typing import Any

from .base import EarlyTerminationPolicy, StopDecision, shown_value, metric_key
from .population import Population

__all__ = ["ASHAPolicy", "HyperbandPolicy"]



def _int_arg(owner: str, name: str, value: Any, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        error = TypeError if isinstance(value, bool) or not isinstance(value, Integral) else ValueError
        raise error(f"{owner}: {name} must be an int >= {minimum}{hint}, got {value!r}")
    return int(value)


@lru_cache(maxsize=65536)
def _bracket(run_id: str, brackets: int) -> int:
    return zlib.crc32(run_id.encode("utf-8")) % brackets


class ASHAPolicy(EarlyTerminationPolicy):
    """Asynchronous successive halving (ASHA) as an early-termination policy.

    Rungs lie at ``min_resource * reduction_factor**s`` intervals below ``max_resource``. With
    ``brackets > 1`` each run is assigned to a bracket ``b`` by a stable hash of its id, and
    bracket ``b``'s rungs start at ``min_resource * reduction_factor**b``. At a rung, a run
    continues if its value is within the top ``n // reduction_factor`` of the ``n`` runs of its
    bracket at the rung (when that is 0, only if it is the best so far); otherwise it stops. The
    runs at the rung follow the population rule every policy shares (SPEC §4): the judged run,
    the runs of its bracket that reached the rung (their value there) and those that ended before
    it (stopped at a lower rung, completed or failed: their last value); a run still running that
    has not reached the rung is left out. A run alone at its rung continues (its minimum of
    comparable runs is one other). A run is never stopped at or after ``max_resource``. NaN
    counts as worst.

        >>> policy = ASHAPolicy(reduction_factor=2)
        >>> [i for i in range(1, 10) if policy.is_evaluation_point(i)]
        [1, 2, 4, 8]
        >>> histories = {"a": [0.9], "b": [0.5], "c": [0.7], "d": [0.6]}
        >>> policy.check("c", histories, "maximize") is None  # top 4 // 2 = 2 continue
        True
        >>> policy.check("d", histories, "maximize").reason
        'ASHAPolicy: 0.6 at rung 1 is not in the top 2 of 4 runs there (needs >= 0.7)'

    Args:
        reduction_factor: ``eta``, an int >= 2; about ``1/eta`` of the runs pass each rung.
        min_resource: the first rung, in intervals (int >= 1).
        max_resource: intervals after which no run is stopped (``None``: no limit).
        brackets: number of brackets (int >= 1); Hyperband uses several.
    """

    def __init__(
        self,
        reduction_factor: int = 3,
        min_resource: int = 1,
        max_resource: int | None = None,
        brackets: int = 1,
    ) -> None:
        owner = type(self).__name__
        self.reduction_factor = _int_arg(owner, "reduction_factor", reduction_factor, 2)
        self.min_resource = _int_arg(owner, "min_resource", min_resource, 1)
        self.max_resource = (
            None
            if max_resource is None
            else _int_arg(
                owner, "max_resource", max_resource, self.min_resource + 1,
                f" (above min_resource={self.min_resource}) or None",
            )
        )
        self.brackets = _int_arg(owner, "brackets", brackets, 1)
        super().__init__(evaluation_interval=1, delay_evaluation=0)

    # -- rungs -----------------------------------------------------------------------------------
    def bracket_of(self, run_id: str) -> int:
        """The bracket of ``run_id``: a stable hash (CRC-32) of its id modulo ``brackets``."""
        if self.brackets == 1:
            return 0
        return _bracket(str(run_id), self.brackets)

    def _rung_index(self, interval: int) -> int | None:
        """``s`` when ``interval == min_resource * eta**s`` below ``max_resource``, else None."""
        if interval < self.min_resource or interval % self.min_resource:
            return None
        if self.max_resource is not None and interval >= self.max_resource:
            return None
        ratio, s = interval // self.min_resource, 0
        while ratio % self.reduction_factor == 0:
            ratio //= self.reduction_factor
            s += 1
        return s if ratio == 1 else None

    def rungs(self, bracket: int = 0, limit: int | None = None) -> list[int]:
        """The rung intervals of ``bracket``, up to ``max_resource`` (or ``limit`` if unbounded)."""
        stop = self.max_resource if self.max_resource is not None else limit
        if stop is None:
            raise ValueError("rungs(): give limit= when max_resource is None (rungs are unbounded)")
        out, r = [], self.min_resource * self.reduction_factor**bracket
        while r < stop:
            out.append(r)
            r *= self.reduction_factor
        return out

    def is_evaluation_point(self, interval: int) -> bool:
        """Whether ``interval`` is a rung of any bracket (the run's own bracket is checked next)."""
        return self._rung_index(interval) is not None

    # -- decision --------------------------------------------------------------------------------
    def _decide(
        self, run_id: Hashable, interval: int, population: Population, goal: str
    ) -> StopDecision | None:
        bracket = self.bracket_of(run_id)  # type: ignore[arg-type]
        if self._rung_index(interval) < bracket:  # type: ignore[operator]
            return None  # a rung of a lower bracket only
        keep = None if self.brackets == 1 else (lambda rid: self.bracket_of(rid) == bracket)  # type: ignore[arg-type]
        others = population.values_at(interval, exclude=run_id, keep=keep)
        if not others:
            return None
        value = population.value(run_id, interval)
        competing = [value, *others]
        keys = sorted((metric_key(v, goal) for v in competing), reverse=True)
        top = len(competing) // self.reduction_factor
        cutoff_key = keys[max(top - 1, 0)]
        if metric_key(value, goal) >= cutoff_key:
            return None
        cutoff = cutoff_key if goal == "maximize" else -cutoff_key
        shown = shown_value(value)
        passing = f"the top {top}" if top else "the best so far"
        where = f"rung {interval}" + (f" of bracket {bracket}" if self.brackets > 1 else "")
        return StopDecision(
            run_id=run_id,  # type: ignore[arg-type]
            policy=type(self).__name__,
            interval=interval,
            value=value,
            threshold=cutoff,
            reason=(
                f"{type(self).__name__}: {shown} at {where} is not in {passing} of "
                f"{len(competing)} runs there (needs {'>=' if goal == 'maximize' else '<='} "
                f"{shown_value(cutoff)})"
            ),
        )

    def _params(self) -> dict[str, Any]:
        return {
            "reduction_factor": self.reduction_factor,
            "min_resource": self.min_resource,
            "max_resource": self.max_resource,
            "brackets": self.brackets,
        }


class HyperbandPolicy(ASHAPolicy):
    """Hyperband: ASHA over ``floor(log_eta(max_resource / min_resource)) + 1`` brackets.

    Each run is assigned to one bracket by a stable hash of its id; bracket ``b`` starts judging at
    ``min_resource * eta**b`` intervals, so higher brackets are more patient (the last one never
    stops a run). Within a bracket it judges as :class:`ASHAPolicy` does, over the same population
    (SPEC §4): the bracket's runs that reached the rung, and those that ended before it with their
    last value.

        >>> HyperbandPolicy(reduction_factor=3, min_resource=1, max_resource=81).brackets
        5

    Args:
        reduction_factor: ``eta``, an int >= 2.
        min_resource: the first rung of bracket 0, in intervals.
        max_resource: the most intervals a run is expected to log; required, > min_resource.
    """

    def __init__(
        self, reduction_factor: int = 3, min_resource: int = 1, max_resource: int = 81
    ) -> None:
        if max_resource is None:
            raise TypeError(
                f"HyperbandPolicy: max_resource must be an int above min_resource={min_resource!r}, got None"
            )
        super().__init__(reduction_factor, min_resource, max_resource, brackets=1)
        count, r = 0, self.min_resource
        while r <= self.max_resource:  # type: ignore[operator]
            count += 1
            r *= self.reduction_factor
        self.brackets = count

    def _params(self) -> dict[str, Any]:
        return {
            "reduction_factor": self.reduction_factor,
            "min_resource": self.min_resource,
            "max_resource": self.max_resource,
        }
