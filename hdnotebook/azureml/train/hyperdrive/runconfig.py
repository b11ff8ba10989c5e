"""``HyperDriveConfig`` (``azureml.train.hyperdrive.runconfig``) with the SDK's signature.

Differences from ``hdnotebook.HyperDriveConfig``, all as in the SDK:

- ``policy=None`` means no early termination (``NoTerminationPolicy``);
- ``max_concurrent_runs=None`` means all at once (bounded by this machine);
- ``resume_from``: earlier HyperDrive runs whose trials the sampler starts from (warm start);
- ``resume_child_runs``: earlier child runs run again first, with the same hyperparameters and
  ``--resume-from <that run's outputs folder>`` (the script loads its checkpoint from there);
- an estimator's fixed ``script_params`` that the search space repeats are dropped, with a
  warning (a ``ScriptRunConfig``'s arguments are kept, as the SDK keeps them).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .... import run_files
from ....config import HyperDriveConfig as _EngineConfig, PrimaryMetricGoal
from ....policy.none import NoTerminationPolicy
from ...._vocab import TERMINAL_STATUSES
from ...exceptions import TrainingException

__all__ = ["HyperDriveConfig", "HyperDriveRunConfig", "PrimaryMetricGoal"]

#: the SDK's default and ceiling for max_duration_minutes (7 days)
MAX_DURATION_MINUTES = 10080


class HyperDriveConfig(_EngineConfig):
    """What a HyperDrive experiment runs, how it samples and when it stops (SDK v1 signature).

    >>> hd_config = HyperDriveConfig(run_config=src, hyperparameter_sampling=ps,
    ...                              primary_metric_name="Accuracy",
    ...                              primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    ...                              max_total_runs=12, max_concurrent_runs=4)   # doctest: +SKIP
    """

    def __init__(self, hyperparameter_sampling: Any, primary_metric_name: str, primary_metric_goal: Any,
                 max_total_runs: int, max_concurrent_runs: int | None = None,
                 max_duration_minutes: float = MAX_DURATION_MINUTES, policy: Any = None, estimator: Any = None,
                 run_config: Any = None, resume_from: Any = None, resume_child_runs: Any = None,
                 pipeline: Any = None, debug_flag: Any = None, custom_run_id: str | None = None) -> None:
        if pipeline is not None:
            raise TrainingException("HyperDriveConfig(pipeline=...): pipelines (HyperDriveStep) are out of scope for "
                                    "hdnotebook.azureml; give estimator= or run_config=")
        given = [n for n, v in (("estimator", estimator), ("run_config", run_config)) if v is not None]
        if len(given) != 1:
            raise TrainingException("HyperDriveConfig: give exactly one of estimator= and run_config=, got "
                                    + (", ".join(given) or "neither"))
        if max_duration_minutes is not None and max_duration_minutes > MAX_DURATION_MINUTES:
            warnings.warn(f"max_duration_minutes {max_duration_minutes} is above the service limit of "
                          f"{MAX_DURATION_MINUTES}; {MAX_DURATION_MINUTES} is used", stacklevel=2)
            max_duration_minutes = MAX_DURATION_MINUTES
        target = estimator if estimator is not None else run_config
        if estimator is not None and hasattr(estimator, "without_arguments"):
            target = _drop_repeated(estimator, hyperparameter_sampling)
        super().__init__(
            estimator=target, hyperparameter_sampling=hyperparameter_sampling,
            policy=policy if policy is not None else NoTerminationPolicy(),
            primary_metric_name=primary_metric_name, primary_metric_goal=_goal(primary_metric_goal),
            max_total_runs=max_total_runs, max_concurrent_runs=max_concurrent_runs,
            max_duration_minutes=max_duration_minutes, warm_start=_as_list(resume_from))
        self.run_config = run_config
        self.pipeline = None
        self.custom_run_id = custom_run_id
        self.resume_from = [getattr(r, "id", r) for r in _as_list(resume_from)]  # ids: the config must pickle
        self.resume_child_runs = [_child_to_resume(run, self) for run in _as_list(resume_child_runs)]
        if len(self.resume_child_runs) > self.max_total_runs:
            raise TrainingException(f"resume_child_runs has {len(self.resume_child_runs)} runs, more than "
                                    f"max_total_runs={self.max_total_runs}")
        self._primary_metric_config = {"name": primary_metric_name, "goal": self.goal}

    @property
    def source_directory(self) -> str:
        return self.estimator.source_directory


#: the SDK's older name
HyperDriveRunConfig = HyperDriveConfig


def _goal(goal: Any) -> Any:
    return getattr(goal, "name", goal) if not isinstance(goal, PrimaryMetricGoal) else goal


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _drop_repeated(estimator: Any, sampling: Any) -> Any:
    """The estimator without the fixed arguments the search space also sets (with a warning)."""
    space = {name.lstrip("-") for name in getattr(sampling, "parameter_space", {})}
    repeated = [key for key in estimator.script_params if key.lstrip("-") in space]
    if not repeated:
        return estimator
    warnings.warn(
        "The same input parameter(s) are specified in estimator script params and the HyperDrive parameter "
        f"space; the parameter space overrides them: {repeated}", stacklevel=3)
    return estimator.without_arguments({key.lstrip("-") for key in repeated})


def _child_to_resume(run: Any, config: HyperDriveConfig) -> dict[str, Any]:
    """What the engine needs to run ``run`` again: its parameters and its outputs folder."""
    store = getattr(run, "_store", None)
    row = store.run(run.id) if store is not None else None
    if row is None or row.parent_id is None:
        raise TrainingException(f"resume_child_runs: {run!r} is not a child run of a HyperDrive run in this workspace")
    if row.status not in TERMINAL_STATUSES:
        raise TrainingException(f"resume_child_runs: run {run.id} is {row.status}; only ended runs can be resumed")
    names = sorted(config.hyperparameter_sampling.parameter_space)
    if sorted(row.params) != names:
        raise TrainingException(f"resume_child_runs: run {run.id} was sampled over {sorted(row.params)}, this "
                                f"config's space is {names}")
    outputs = os.path.join(run_files.working_directory(run_files.run_directory(os.path.dirname(store.path), run.id)),
                           "outputs")
    return {"run_id": run.id, "params": dict(row.params), "outputs": outputs}
