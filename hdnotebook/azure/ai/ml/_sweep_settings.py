"""SDK v2 sweep settings: sampling algorithms, early-termination policies, objective and limits.

Names, arguments and defaults are v2's (``azure.ai.ml.sweep``); each one says what hdnotebook
object it becomes::

    >>> to_engine_policy(BanditPolicy(slack_factor=0.15, evaluation_interval=1, delay_evaluation=10))
    BanditPolicy(slack_factor=0.15, evaluation_interval=1, delay_evaluation=10)
    >>> to_engine_policy("median_stopping")
    MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=0)
    >>> to_engine_policy(None)          # v2: no policy means every trial runs to the end
    NoTerminationPolicy()

v2's ``evaluation_interval`` defaults to 0 for Bandit and TruncationSelection; 0 means "every
interval" here (the engine's 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

from ....config import MAX_CONCURRENT_RUNS, MAX_TOTAL_RUNS, PrimaryMetricGoal, _check_limit
from ....policy.bandit import BanditPolicy as _EngineBandit
from ....policy.base import EarlyTerminationPolicy as _EnginePolicy
from ....policy.median import MedianStoppingPolicy as _EngineMedian
from ....policy.none import NoTerminationPolicy as _EngineNone
from ....policy.truncation import TruncationSelectionPolicy as _EngineTruncation
from ....sampling.base import ParameterSampling
from ....sampling.bayesian import BayesianParameterSampling
from ....sampling.grid import GridParameterSampling
from ....sampling.random import RandomParameterSampling
from ....sampling.sobol import SobolParameterSampling
from ._search_space import SweepDistribution, scale_log_base

__all__ = [
    "SamplingAlgorithm",
    "RandomSamplingAlgorithm",
    "GridSamplingAlgorithm",
    "BayesianSamplingAlgorithm",
    "EarlyTerminationPolicy",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "Objective",
    "SweepJobLimits",
    "to_engine_sampling",
    "to_engine_policy",
    "to_engine_goal",
]


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
class SamplingAlgorithm:
    """Base class of the v2 sampling algorithms; ``type`` is ``"random"``, ``"grid"`` or ``"bayesian"``."""

    type: str = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class RandomSamplingAlgorithm(SamplingAlgorithm):
    """Random sampling; ``rule="sobol"`` draws a scrambled Sobol sequence instead.

    Args:
        rule: ``"random"`` (default) or ``"sobol"``.
        seed: an int for reproducible trials.
        logbase: the base of the log distributions (a positive number or ``"e"``, the default).

        >>> RandomSamplingAlgorithm(rule="sobol", seed=7)
        RandomSamplingAlgorithm(rule='sobol', seed=7)
    """

    type = "random"

    def __init__(self, *, rule: str | None = None, seed: int | None = None, logbase: float | str | None = None) -> None:
        if rule is not None and (not isinstance(rule, str) or rule.lower() not in ("random", "sobol")):
            raise ValueError(f"RandomSamplingAlgorithm(rule=...): rule must be 'random' or 'sobol', got {rule!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
            raise TypeError(f"RandomSamplingAlgorithm(seed=...): seed must be an int, got {seed!r}")
        if logbase is not None and logbase != "e" and (isinstance(logbase, bool) or not isinstance(logbase, Real)
                                                       or logbase <= 0 or logbase == 1):
            raise ValueError(
                f"RandomSamplingAlgorithm(logbase=...): logbase must be a positive number other than 1, "
                f"or 'e'; got {logbase!r}"
            )
        self.rule = rule
        self.seed = seed
        self.logbase = logbase

    def __repr__(self) -> str:
        args = {"rule": self.rule, "seed": self.seed, "logbase": self.logbase}
        return f"RandomSamplingAlgorithm({', '.join(f'{k}={v!r}' for k, v in args.items() if v is not None)})"


class GridSamplingAlgorithm(SamplingAlgorithm):
    """Every combination of the ``Choice`` values (and ``Randint``'s whole numbers)."""

    type = "grid"


class BayesianSamplingAlgorithm(SamplingAlgorithm):
    """Bayesian optimisation: each trial is chosen from how the earlier ones did.

    Azure ML allows only ``Choice``, ``Uniform`` and ``QUniform`` here and no early termination;
    hdnotebook's Bayesian sampler takes every distribution and any policy.
    """

    type = "bayesian"


_ALGORITHMS: dict[str, type[SamplingAlgorithm]] = {
    "random": RandomSamplingAlgorithm,
    "grid": GridSamplingAlgorithm,
    "bayesian": BayesianSamplingAlgorithm,
}


def check_sampling_algorithm(value: Any) -> SamplingAlgorithm | str:
    """v2's ``sampling_algorithm``: one of the classes, or ``"random"``/``"grid"``/``"bayesian"`` (any case)."""
    if isinstance(value, SamplingAlgorithm):
        return value
    if isinstance(value, str) and value.lower() in _ALGORITHMS:
        return value
    raise ValueError(
        "sampling_algorithm must be 'random', 'grid', 'bayesian' or a RandomSamplingAlgorithm / "
        f"GridSamplingAlgorithm / BayesianSamplingAlgorithm; got {value!r}"
    )


def to_engine_sampling(
    algorithm: SamplingAlgorithm | str, search_space: Mapping[str, SweepDistribution]
) -> ParameterSampling:
    """The hdnotebook sampler for a v2 algorithm over a v2 search space.

        >>> from hdnotebook.azure.ai.ml.sweep import Choice
        >>> to_engine_sampling("grid", {"kernel": Choice(["linear", "rbf"])}).parameter_space
        {'kernel': choice('linear', 'rbf')}
    """
    algorithm = check_sampling_algorithm(algorithm)
    if isinstance(algorithm, str):
        algorithm = _ALGORITHMS[algorithm.lower()]()
    logbase = algorithm.logbase if isinstance(algorithm, RandomSamplingAlgorithm) else None
    space = {name: scale_log_base(dist, logbase) for name, dist in search_space.items()}
    if isinstance(algorithm, RandomSamplingAlgorithm):
        if (algorithm.rule or "random").lower() == "sobol":
            return SobolParameterSampling(space, seed=algorithm.seed)
        return RandomParameterSampling(space, seed=algorithm.seed)
    if isinstance(algorithm, GridSamplingAlgorithm):
        return GridParameterSampling(space)
    return BayesianParameterSampling(space)


# ---------------------------------------------------------------------------------------------
# early termination
# ---------------------------------------------------------------------------------------------
class EarlyTerminationPolicy:
    """Base class of the v2 policies: ``delay_evaluation`` and ``evaluation_interval``, keyword-only."""

    type: str = ""

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 0) -> None:
        self.delay_evaluation = _check_count(type(self).__name__, "delay_evaluation", delay_evaluation)
        self.evaluation_interval = _check_count(type(self).__name__, "evaluation_interval", evaluation_interval)

    def _engine_timing(self) -> dict[str, int]:
        # v2's default interval is 0, which the service treats as "every interval"
        return {"evaluation_interval": max(self.evaluation_interval, 1), "delay_evaluation": self.delay_evaluation}

    def to_engine(self) -> _EnginePolicy:
        """The hdnotebook policy this one is."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)


class BanditPolicy(EarlyTerminationPolicy):
    """Stop trials outside the slack of the best trial (give ``slack_factor`` or ``slack_amount``).

    Defaults as in v2: ``delay_evaluation=0, evaluation_interval=0, slack_amount=0, slack_factor=0``.

        >>> BanditPolicy(slack_amount=0.2, delay_evaluation=5).to_engine()
        BanditPolicy(slack_amount=0.2, evaluation_interval=1, delay_evaluation=5)
    """

    type = "bandit"

    def __init__(
        self, *, delay_evaluation: int = 0, evaluation_interval: int = 0, slack_amount: float = 0, slack_factor: float = 0
    ) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)
        for name, value in (("slack_amount", slack_amount), ("slack_factor", slack_factor)):
            if isinstance(value, bool) or not isinstance(value, Real) or value < 0:
                raise ValueError(f"BanditPolicy({name}=...): must be a number >= 0, got {value!r}")
        if slack_amount and slack_factor:
            raise ValueError(
                "BanditPolicy: give slack_factor or slack_amount, not both; got "
                f"slack_factor={slack_factor!r}, slack_amount={slack_amount!r}"
            )
        self.slack_amount = slack_amount
        self.slack_factor = slack_factor

    def to_engine(self) -> _EnginePolicy:
        if self.slack_factor:
            return _EngineBandit(slack_factor=self.slack_factor, **self._engine_timing())
        if self.slack_amount:
            return _EngineBandit(slack_amount=self.slack_amount, **self._engine_timing())
        raise ValueError(
            "BanditPolicy needs slack_factor or slack_amount > 0 (both are 0, v2's default), e.g. "
            "BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)"
        )


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop trials whose best value is worse than the median of the running averages.

    Defaults as in v2: ``delay_evaluation=0, evaluation_interval=1``.
    """

    type = "median_stopping"

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 1) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)

    def to_engine(self) -> _EnginePolicy:
        return _EngineMedian(**self._engine_timing())


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Stop the lowest ``truncation_percentage`` % of trials at each evaluation (1..99).

    Defaults as in v2: ``delay_evaluation=0, evaluation_interval=0, truncation_percentage=0``; the
    percentage must be set, 0 is refused when the job is submitted. ``exclude_finished_jobs`` (v1's
    option; the v2 SDK does not have it) ranks a trial among the running ones only.

        >>> TruncationSelectionPolicy(truncation_percentage=20, exclude_finished_jobs=True).to_engine()
        TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=1, delay_evaluation=0, exclude_finished_jobs=True)
    """

    type = "truncation_selection"

    def __init__(self, *, delay_evaluation: int = 0, evaluation_interval: int = 0, truncation_percentage: int = 0,
                 exclude_finished_jobs: bool = False) -> None:
        super().__init__(delay_evaluation=delay_evaluation, evaluation_interval=evaluation_interval)
        self.truncation_percentage = truncation_percentage
        self.exclude_finished_jobs = exclude_finished_jobs

    def to_engine(self) -> _EnginePolicy:
        return _EngineTruncation(self.truncation_percentage, exclude_finished_jobs=self.exclude_finished_jobs,
                                 **self._engine_timing())


_POLICY_NAMES: dict[str, type[EarlyTerminationPolicy]] = {
    "bandit": BanditPolicy,
    "median_stopping": MedianStoppingPolicy,
    "medianstopping": MedianStoppingPolicy,
    "truncation_selection": TruncationSelectionPolicy,
    "truncationselection": TruncationSelectionPolicy,
}


def check_policy(value: Any) -> EarlyTerminationPolicy | None:
    """v2's ``early_termination_policy``: a policy object, its name, or ``None``."""
    if value is None or isinstance(value, EarlyTerminationPolicy):
        return value
    if isinstance(value, str) and value.lower() in _POLICY_NAMES:
        return _POLICY_NAMES[value.lower()]()
    raise ValueError(
        "early_termination_policy must be BanditPolicy(...), MedianStoppingPolicy(...), "
        "TruncationSelectionPolicy(...), 'bandit', 'median_stopping', 'truncation_selection' or None; "
        f"got {value!r}"
    )


def to_engine_policy(value: Any) -> _EnginePolicy:
    """The hdnotebook policy for a v2 one; ``None`` is no early termination, as in v2."""
    policy = check_policy(value)
    return _EngineNone() if policy is None else policy.to_engine()


def _check_count(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{owner}({name}=...): must be an int >= 0, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# objective and limits
# ---------------------------------------------------------------------------------------------
class Objective:
    """What the sweep optimises: ``goal`` (``"maximize"``/``"minimize"``, any case) of ``primary_metric``.

        >>> Objective(goal="Maximize", primary_metric="Accuracy").goal
        'maximize'
    """

    def __init__(self, goal: str | None, primary_metric: str | None = None) -> None:
        self.goal = to_engine_goal(goal).value
        if not isinstance(primary_metric, str) or not primary_metric.strip():
            raise ValueError(
                "primary_metric must be the exact name the training script logs (mlflow.log_metric), "
                f"e.g. 'Accuracy'; got {primary_metric!r}"
            )
        self.primary_metric = primary_metric

    def __repr__(self) -> str:
        return f"Objective(goal={self.goal!r}, primary_metric={self.primary_metric!r})"


def to_engine_goal(goal: Any) -> PrimaryMetricGoal:
    """``"Maximize"``, ``"minimize"`` ... as the engine's :class:`PrimaryMetricGoal`."""
    if isinstance(goal, str):
        try:
            return PrimaryMetricGoal(goal)
        except ValueError:
            pass
    raise ValueError(f"goal must be 'maximize' or 'minimize' (any case), got {goal!r}")


class SweepJobLimits:
    """How many trials, how many at once, and how long (seconds) the sweep and each trial may run.

    Unset values mean: ``max_total_trials`` 1000 (or the size of a grid), ``max_concurrent_trials``
    as many as the machine's slots allow, no ``timeout``, no ``trial_timeout``.

        >>> SweepJobLimits(max_total_trials=20, max_concurrent_trials=4, timeout=7200)
        SweepJobLimits(max_concurrent_trials=4, max_total_trials=20, timeout=7200, trial_timeout=None)
    """

    def __init__(
        self,
        *,
        max_concurrent_trials: int | None = None,
        max_total_trials: int | None = None,
        timeout: int | None = None,
        trial_timeout: int | None = None,
    ) -> None:
        self.max_concurrent_trials = max_concurrent_trials
        self.max_total_trials = max_total_trials
        self.timeout = timeout
        self.trial_timeout = trial_timeout

    # each assignment is checked, so set_limits and attribute writes share one rule
    def __setattr__(self, name: str, value: Any) -> None:
        checks = {
            "max_concurrent_trials": lambda v: _check_limit(name, v, 1, MAX_CONCURRENT_RUNS),
            "max_total_trials": lambda v: _check_limit(name, v, 1, MAX_TOTAL_RUNS),
            "timeout": lambda v: _check_seconds(name, v),
            "trial_timeout": lambda v: _check_seconds(name, v),
        }
        if name in checks:
            value = checks[name](value)
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        return (
            f"SweepJobLimits(max_concurrent_trials={self.max_concurrent_trials!r}, "
            f"max_total_trials={self.max_total_trials!r}, timeout={self.timeout!r}, "
            f"trial_timeout={self.trial_timeout!r})"
        )


def _check_seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    return value
