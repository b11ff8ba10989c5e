"""The sampler base class: a pure function of the space, a seed and the trials so far."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..space import ParameterExpression, validate_space

__all__ = ["TrialRecord", "ParameterSampling", "worst_value"]

#: States a trial record can be in, as the samplers see them.
TRIAL_STATES = ("running", "completed", "stopped", "failed")


@dataclass(frozen=True)
class TrialRecord:
    """What a sampler knows about one trial.

    Attributes:
        number: 0-based creation order within the experiment.
        params: the sampled configuration.
        state: ``running`` (pending), ``completed``, ``stopped`` (ended early by a policy or a
            cancel; ``value`` is partial evidence) or ``failed``.
        value: the trial's primary metric (the best it logged, by the goal), or ``None``.
        intervals: how many times it logged the primary metric.
    """

    number: int
    params: Mapping[str, Any]
    state: str = "completed"
    value: float | None = None
    intervals: int = 0
    curve: Sequence[float] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.state not in TRIAL_STATES:
            raise ValueError(f"TrialRecord.state must be one of {TRIAL_STATES}, got {self.state!r}")


def worst_value(goal: str) -> float:
    """The value that counts as worst under ``goal`` (NaN metrics are mapped to it)."""
    return -math.inf if goal == "maximize" else math.inf


def _normalise_seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    return int(seed)


class ParameterSampling(ABC):
    """Base class of the samplers (SPEC §2).

    A sampler is pure: :meth:`suggest` depends only on the space, the seed and the trials it is
    given, so the same seed and the same history give the same proposals.

    Args:
        parameter_space: ``{name: expression}``.
        seed: an int for reproducible proposals; ``None`` draws one (see :attr:`seed`).
        properties: free-form settings kept for HyperDrive compatibility.
    """

    #: Name used by the magic's ``--sampling`` option and in stored configs.
    name: ClassVar[str] = ""

    def __init__(
        self,
        parameter_space: Mapping[str, ParameterExpression],
        seed: int | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        self.parameter_space = validate_space(parameter_space)
        self.seed = _normalise_seed(seed)
        self.properties = dict(properties or {})

    @property
    def max_configurations(self) -> int | None:
        """How many distinct configurations this sampler can produce (``None``: unbounded)."""
        return None

    @abstractmethod
    def suggest(
        self, trials: Sequence[TrialRecord], goal: str = "maximize", count: int = 1
    ) -> list[dict[str, Any]]:
        """Propose up to ``count`` configurations for the next trials.

        Args:
            trials: every trial created so far, in creation order (pending ones included).
            goal: ``"maximize"`` or ``"minimize"``.
            count: how many to propose; fewer come back when the space is exhausted.
        """

    def _rng(self, number: int) -> np.random.Generator:
        """A generator that depends only on the seed and the trial number."""
        return np.random.default_rng([self.seed, number])

    def __repr__(self) -> str:
        space = ", ".join(f"{k!r}: {v!r}" for k, v in self.parameter_space.items())
        return f"{type(self).__name__}({{{space}}}, seed={self.seed})"
