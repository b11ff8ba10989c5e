"""A v2 sweep job (or command job) as an hdnotebook experiment: the one place that maps v2 onto the engine.

========================================  =================================================
v2                                        hdnotebook
========================================  =================================================
trial ``command(code=, command=...)``     ``ScriptRunConfig(code, _launch.py, ["--job-spec", spec])``:
                                          the launcher fills ``${{inputs.x}}`` in and execs the command
``search_space`` / distribution inputs    the space, one expression each (``_search_space``)
``sampling_algorithm``                    Random / Sobol (``rule="sobol"``) / Grid / Bayesian sampling
``early_termination_policy``              the engine's policy; ``None`` -> ``NoTerminationPolicy``
``objective``                             ``primary_metric_name`` / ``primary_metric_goal``
``max_total_trials``                      ``max_total_runs`` (unset: 1000, or the grid's size)
``max_concurrent_trials``                 ``max_concurrent_runs``
``timeout`` (s)                           ``max_duration_minutes = timeout / 60``
``command(..., gpus=1)`` (local)          GPUs per trial (in Azure ML the compute brings them)
``trial_timeout`` (s)                     the engine's per-trial limit, when it has one
========================================  =================================================

A command job submitted on its own runs as a sweep of one trial: a grid over its literal inputs,
each a one-value choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ....config import MAX_TOTAL_RUNS, HyperDriveConfig, PrimaryMetricGoal
from ....estimator import ScriptRunConfig
from ....policy.none import NoTerminationPolicy
from ....sampling.grid import GridParameterSampling
from ....space import choice
from . import _launch
from ._command import CLOUD_PREFIXES, PATH_TYPES, Command, Input, SweepJob
from ._search_space import SweepDistribution
from ._sweep_settings import to_engine_policy, to_engine_sampling
from ._template import check_references, format_value

__all__ = ["LocalPlan", "plan_job", "COMMAND_JOB_METRIC"]

#: the primary metric name of a command job submitted on its own (it has no objective)
COMMAND_JOB_METRIC = "(command job: no objective)"


@dataclass
class LocalPlan:
    """What ``jobs.create_or_update`` needs: the engine config, the launcher spec, the experiment name."""

    config: HyperDriveConfig
    spec: dict[str, Any]
    experiment_name: str
    kind: str  # "sweep" or "command"


def plan_job(job: SweepJob | Command, *, spec_path: str, outputs_root: str, cwd: str,
             experiment_name: str | None = None) -> LocalPlan:
    """Map ``job`` onto an hdnotebook config; ``spec_path`` is where the launcher spec will be written.

    Relative paths (``code``, local inputs and outputs) are taken from ``cwd``, the folder the job is
    submitted from. Every mistake raises here, before anything is written or started.
    """
    if isinstance(job, SweepJob):
        if job.trial is None:
            raise ValueError("SweepJob(trial=...): the sweep needs a trial, e.g. command(...).sweep(...)")
        if job.objective is None:
            raise ValueError("the sweep job needs an objective: .sweep(primary_metric='Accuracy', goal='Maximize')")
        if not job.search_space:
            raise ValueError(
                "the sweep job has no search space: set inputs to distributions, e.g. "
                "job(C=Uniform(min_value=0.5, max_value=1.5)).sweep(...)"
            )
        trial = job.trial
        fixed = {**{k: v for k, v in trial.inputs.items() if not isinstance(v, SweepDistribution)}, **job.inputs}
        outputs = {**trial.outputs, **job.outputs}
        _check_no_overlap(fixed, job.search_space)
        spec = _spec(trial, fixed, outputs, list(job.search_space), outputs_root, cwd)
        config = HyperDriveConfig(
            estimator=_estimator(trial, spec_path, cwd),
            hyperparameter_sampling=to_engine_sampling(job.sampling_algorithm, job.search_space),
            policy=to_engine_policy(job.early_termination),
            primary_metric_name=job.objective.primary_metric,
            primary_metric_goal=job.objective.goal,
            **_limits(job),
        )
        name = experiment_name or job.experiment_name or trial.experiment_name
        return LocalPlan(config, spec, name or default_experiment_name(cwd), "sweep")
    if isinstance(job, Command):
        swept = sorted(k for k, v in job.inputs.items() if isinstance(v, SweepDistribution))
        if swept:
            raise ValueError(
                f"inputs {swept} hold distributions: submit job.sweep(primary_metric=..., goal=...) instead of the command"
            )
        spec = _spec(job, job.inputs, job.outputs, [], outputs_root, cwd)
        space = {k: choice([v]) for k, v in spec["inputs"].items() if v is not None} or {"command": choice([job.command])}
        spec["inputs"] = {k: v for k, v in spec["inputs"].items() if k not in space}
        spec["sampled"] = list(space)
        config = HyperDriveConfig(
            estimator=_estimator(job, spec_path, cwd), hyperparameter_sampling=GridParameterSampling(space),
            policy=NoTerminationPolicy(), primary_metric_name=COMMAND_JOB_METRIC,
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=1,
        )
        name = experiment_name or job.experiment_name
        return LocalPlan(config, spec, name or default_experiment_name(cwd), "command")
    raise TypeError(f"create_or_update(job): job must be a command(...) job or a sweep job, got {job!r}")


def default_experiment_name(cwd: str) -> str:
    """v2's default experiment: the name of the folder the job is submitted from, or ``"Default"``."""
    return os.path.basename(os.path.abspath(cwd)).replace(" ", "") or "Default"


def _check_no_overlap(fixed: dict[str, Any], space: dict[str, Any]) -> None:
    both = sorted(set(fixed) & set(space))
    if both:
        raise ValueError(f"inputs {both} are both fixed inputs and in the search space; give each one once")


def _spec(trial: Command, inputs: dict[str, Any], outputs: dict[str, Any], sampled: list[str],
          outputs_root: str, cwd: str) -> dict[str, Any]:
    """The launcher's spec: the template, the fixed inputs as text, the outputs' folders."""
    check_references(trial.command, {**inputs, **dict.fromkeys(sampled)}, outputs)
    texts: dict[str, str | None] = {}
    for name, value in inputs.items():
        texts[name] = _input_text(name, value, cwd)
    return {
        "command": trial.command,
        "inputs": texts,
        "sampled": sampled,
        "outputs": {name: None if out.path is None else _local_path(f"output {name!r}", out.path, cwd)
                    for name, out in outputs.items()},
        "outputs_root": outputs_root,
        "environment_variables": {str(k): str(v) for k, v in trial.environment_variables.items()},
    }


def _input_text(name: str, value: Any, cwd: str) -> str | None:
    if isinstance(value, Input):
        if value.type not in PATH_TYPES:
            return None if value.default is None else format_value(value.default)
        if value.path is None:
            return None
        if value.path.startswith(("http://", "https://")):
            return value.path  # handed over as it is: pandas, torchvision ... read URLs themselves
        return _local_path(f"input {name!r}", value.path, cwd)
    return None if value is None else format_value(value)


def _local_path(what: str, path: str, cwd: str) -> str:
    if path.startswith(CLOUD_PREFIXES):
        raise ValueError(
            f"{what}: {path!r} is a cloud location, which this machine cannot reach; give a local "
            "file or folder instead, e.g. Input(type='uri_file', path='data/iris.csv')"
        )
    if path.startswith("file://"):
        path = path[len("file://"):]
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))


def _estimator(trial: Command, spec_path: str, cwd: str) -> ScriptRunConfig:
    code = trial.code if trial.code is not None else os.path.join(os.path.dirname(spec_path), "empty-code")
    code = os.path.normpath(os.path.join(cwd, code))
    if os.path.isfile(code):
        code = os.path.dirname(code)
    if not os.path.isdir(code):
        raise ValueError(f"command(code=...): {trial.code!r} is not a folder (looked in {code})")
    return ScriptRunConfig(source_directory=code, script=os.path.abspath(_launch.__file__),
                           arguments=[_launch.SPEC_FLAG, spec_path], gpus=trial.gpus)


def _limits(job: SweepJob) -> dict[str, Any]:
    limits = job.limits
    out: dict[str, Any] = {
        "max_total_runs": limits.max_total_trials if limits.max_total_trials is not None else MAX_TOTAL_RUNS,
        "max_concurrent_runs": limits.max_concurrent_trials,
        "max_duration_minutes": None if limits.timeout is None else limits.timeout / 60.0,
    }
    if limits.trial_timeout is not None:
        out["max_run_duration_seconds"] = limits.trial_timeout
    return out
