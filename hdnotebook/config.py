"""HyperDriveConfig and PrimaryMetricGoal: what an experiment runs and its limits (SPEC §3, §5)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

from .estimator import ScriptRunConfig, check_gpus, check_seconds
from .policy.base import EarlyTerminationPolicy, check_goal
from .sampling.base import ParameterSampling

__all__ = ["PrimaryMetricGoal", "HyperDriveConfig", "HyperDriveRunConfig", "MAX_TOTAL_RUNS", "check_limits"]

MAX_TOTAL_RUNS = 1000
MAX_CONCURRENT_RUNS = 100


class PrimaryMetricGoal(str, enum.Enum):
    """Whether the primary metric should be maximised or minimised.

    ``PrimaryMetricGoal("MAXIMIZE")`` and ``PrimaryMetricGoal("maximize")`` both work.
    """

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @classmethod
    def _missing_(cls, value: object) -> PrimaryMetricGoal | None:
        if isinstance(value, str):
            for member in cls:
                if member.value == value.lower():
                    return member
        return None

    def __str__(self) -> str:
        return self.value


def _check_limit(name: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value!r}")
    return int(value)


class HyperDriveConfig:
    """Everything an experiment needs: what to run, how to sample, when to stop (SPEC §6).

    Example::

        config = HyperDriveConfig(
            estimator=train,                       # a function, ScriptRunConfig or Estimator
            hyperparameter_sampling=RandomParameterSampling({"lr": loguniform(-6, -1)}),
            policy=BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5),
            primary_metric_name="accuracy",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            max_total_runs=20,
            max_concurrent_runs=4)

    Args:
        estimator: a Python callable (called with the sampled hyperparameters as keyword
            arguments; a numeric return value is logged as the primary metric), or a
            :class:`~hdnotebook.ScriptRunConfig` / :class:`~hdnotebook.Estimator`.
        hyperparameter_sampling: a sampler such as ``RandomParameterSampling(space)``.
        policy: an early-termination policy; ``None`` means ``MedianStoppingPolicy(1, 5)``, or no
            termination when sampling is Bayesian.
        primary_metric_name: the name the training code logs, exactly.
        primary_metric_goal: ``PrimaryMetricGoal.MAXIMIZE`` or ``.MINIMIZE``.
        max_total_runs: 1..1000 runs at most; when unset, the size of a finite space (grid), else
            required unless ``max_duration_minutes`` is given (then 1000).
        max_concurrent_runs: 1..100; unset means as many as the machine's slots allow.
        max_duration_minutes: optional wall-clock limit, may be fractional (0.5 = 30 s).
        max_run_duration_seconds: optional limit on each trial's own wall-clock time, in seconds
            (a script config's ``max_run_duration_seconds`` applies too; the smaller wins). A
            trial that reaches it is Canceled with that reason; what it logged is kept.
        gpus_per_trial: GPUs each trial needs; overrides the estimator's own request.
        max_retries: how often a trial whose worker was lost is run again before it is Failed.
        warm_start: earlier experiment runs over the same space (``HyperDriveRun`` objects, e.g.
            ``Experiment(ws, "old").get_runs()[0]``, or sampler ``TrialRecord`` objects): the sampler is
            given their finished trials before this experiment's own (Bayesian sampling starts
            from what they learned). They do not count toward ``max_total_runs``.
    """

    def __init__(
        self,
        estimator: Any = None,
        hyperparameter_sampling: ParameterSampling | None = None,
        policy: EarlyTerminationPolicy | None = None,
        primary_metric_name: str | None = None,
        primary_metric_goal: PrimaryMetricGoal | str | None = None,
        max_total_runs: int | None = None,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: float | None = None,
        max_run_duration_seconds: float | None = None,
        gpus_per_trial: float | None = None,
        max_retries: int = 0,
        run_config: Any = None,
        warm_start: Any = None,
    ) -> None:
        if estimator is None:
            estimator = run_config
        if not (callable(estimator) or isinstance(estimator, ScriptRunConfig)):
            raise TypeError(
                "estimator must be a Python function (called with the hyperparameters as keyword "
                f"arguments), a ScriptRunConfig or an Estimator; got {estimator!r}"
            )
        if not isinstance(hyperparameter_sampling, ParameterSampling):
            raise TypeError(
                "hyperparameter_sampling must be RandomParameterSampling, GridParameterSampling, "
                f"BayesianParameterSampling or SobolParameterSampling; got {hyperparameter_sampling!r}"
            )
        if policy is not None and not isinstance(policy, EarlyTerminationPolicy):
            raise TypeError(
                "policy must be BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, "
                f"NoTerminationPolicy, ASHAPolicy, HyperbandPolicy or None; got {policy!r}"
            )
        if not isinstance(primary_metric_name, str) or not primary_metric_name.strip():
            raise ValueError(
                "primary_metric_name must be the exact name the training code logs, e.g. "
                f"'accuracy'; got {primary_metric_name!r}"
            )
        if primary_metric_goal is None:
            raise ValueError(
                "primary_metric_goal is required: PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE"
            )
        self.estimator = estimator
        self.hyperparameter_sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = PrimaryMetricGoal(check_goal(primary_metric_goal))
        self.max_concurrent_runs = _check_limit(
            "max_concurrent_runs", max_concurrent_runs, 1, MAX_CONCURRENT_RUNS
        )
        self.max_duration_minutes = _check_duration(max_duration_minutes)
        self.max_run_duration_seconds = check_seconds("max_run_duration_seconds", max_run_duration_seconds)
        self.max_total_runs = self._resolve_total_runs(max_total_runs)
        self.policy = policy if policy is not None else default_policy(hyperparameter_sampling)
        gpus = gpus_per_trial if gpus_per_trial is not None else getattr(estimator, "gpus", 0)
        self.gpus_per_trial = check_gpus("HyperDriveConfig", gpus)
        self.max_retries = _check_limit("max_retries", max_retries, 0, 100) or 0
        self.warm_start = _warm_start_list(warm_start)

    def _resolve_total_runs(self, max_total_runs: int | None) -> int:
        checked = _check_limit("max_total_runs", max_total_runs, 1, MAX_TOTAL_RUNS)
        space_size = self.hyperparameter_sampling.max_configurations
        if checked is None:
            if space_size is not None:
                return min(space_size, MAX_TOTAL_RUNS)
            if self.max_duration_minutes is not None:
                return MAX_TOTAL_RUNS
            raise ValueError(
                "max_total_runs is required for a continuous search space (1 to 1000), or give "
                "max_duration_minutes to run until the time is up"
            )
        return min(checked, space_size) if space_size is not None else checked

    @property
    def trial_time_limit(self) -> float | None:
        """Seconds each trial may run: the smaller of ``max_run_duration_seconds`` and the script
        config's own ``max_run_duration_seconds``; ``None`` for no limit."""
        own = getattr(self.estimator, "max_run_duration_seconds", None)
        limits = [s for s in (self.max_run_duration_seconds, own) if s is not None]
        return min(limits) if limits else None

    @property
    def goal(self) -> str:
        """The goal as a plain string: ``"maximize"`` or ``"minimize"``."""
        return self.primary_metric_goal.value

    def __repr__(self) -> str:
        return (
            f"HyperDriveConfig(estimator={self.estimator!r}, "
            f"hyperparameter_sampling={self.hyperparameter_sampling!r}, policy={self.policy!r}, "
            f"primary_metric_name={self.primary_metric_name!r}, "
            f"primary_metric_goal={self.primary_metric_goal}, max_total_runs={self.max_total_runs}, "
            f"max_concurrent_runs={self.max_concurrent_runs}, "
            f"max_duration_minutes={self.max_duration_minutes}"
            + (f", max_run_duration_seconds={self.max_run_duration_seconds:g}" if self.max_run_duration_seconds else "")
            + ")"
        )


#: HyperDrive's other name for the same class.
HyperDriveRunConfig = HyperDriveConfig


def _warm_start_list(value: Any) -> list[Any]:
    """``None``, one earlier run, or a list of them (checked against the store at submit)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _check_duration(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"max_duration_minutes must be a number of minutes > 0 (0.5 = 30 s), got {value!r}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"max_duration_minutes must be a finite number > 0 (0.5 = 30 s), got {value!r}")
    return float(value)


def check_limits(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check a change of a running experiment's limits with :class:`HyperDriveConfig`'s own rules.

    ``max_total_runs`` 1..1000; ``max_concurrent_runs`` 1..100 or ``None`` (as many as the machine's
    slots allow); ``max_duration_minutes`` > 0 or ``None`` (no limit). Returns the checked values.

    >>> check_limits({"max_total_runs": 40, "max_duration_minutes": 0.5})
    {'max_total_runs': 40, 'max_duration_minutes': 0.5}
    >>> check_limits({"max_concurrent_runs": 0})
    Traceback (most recent call last):
    ValueError: max_concurrent_runs must be from 1 to 100, got 0
    """
    allowed = ("max_total_runs", "max_concurrent_runs", "max_duration_minutes")
    unknown = [name for name in changes if name not in allowed]
    if unknown:
        raise TypeError(f"set_limits takes {', '.join(allowed)}; got {', '.join(map(repr, unknown))}")
    if not changes:
        raise ValueError(f"set_limits: give at least one of {', '.join(allowed)}")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "max_total_runs":
            if value is None:
                raise ValueError("max_total_runs must be from 1 to 1000, got None (a running experiment keeps a budget)")
            checked[name] = _check_limit(name, value, 1, MAX_TOTAL_RUNS)
        elif name == "max_concurrent_runs":
            checked[name] = _check_limit(name, value, 1, MAX_CONCURRENT_RUNS)
        else:
            checked[name] = _check_duration(value)
    return checked


def default_policy(sampling: ParameterSampling) -> EarlyTerminationPolicy:
    """SPEC §4: ``MedianStoppingPolicy(1, 5)``, or no termination under Bayesian sampling."""
    from .policy.median import MedianStoppingPolicy
    from .policy.none import NoTerminationPolicy

    if sampling.name == "bayesian":
        return NoTerminationPolicy()
    return MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)
