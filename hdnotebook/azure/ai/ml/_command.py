"""``command(...)``, ``Input``/``Output`` and the sweep job built from a command (SDK v2 shapes).

As in v2, a command is called like a function to set inputs, and a command whose inputs hold
search-space distributions becomes a sweep job with ``.sweep(...)``::

    job = command(code="./src", command="python train.py --C ${{inputs.C}} --kernel ${{inputs.kernel}}",
                  inputs={"C": 1.0, "kernel": "linear"}, environment="sklearn-env@latest", compute="cpu-cluster")
    sweep_job = job(C=Uniform(0.5, 1.5), kernel=Choice(["linear", "rbf"])).sweep(
        primary_metric="Accuracy", goal="Maximize", sampling_algorithm="random",
        max_total_trials=12, max_concurrent_trials=4,
        early_termination_policy=MedianStoppingPolicy(delay_evaluation=5))

Nothing here runs anything or writes a file: ``MLClient.jobs.create_or_update`` does.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from ....estimator import check_gpus
from ._search_space import SweepDistribution
from ._sweep_settings import (
    EarlyTerminationPolicy,
    Objective,
    SamplingAlgorithm,
    SweepJobLimits,
    check_policy,
    check_sampling_algorithm,
)
from ._template import check_references

__all__ = ["Input", "Output", "Command", "command", "SweepJob"]

#: input types whose value is a path (a local file or folder here)
PATH_TYPES = ("uri_file", "uri_folder", "mlflow_model", "custom_model", "triton_model", "mltable")
#: input types whose value is a literal (set with ``default=``)
LITERAL_TYPES = ("integer", "number", "string", "boolean")
#: path prefixes that name a cloud location, which this machine cannot mount
CLOUD_PREFIXES = ("azureml:", "azureml://", "wasbs://", "wasb://", "abfss://", "abfs://", "adl://")


class Input:
    """A job input: a local file or folder (``type="uri_file"``/``"uri_folder"``), or a typed literal.

    Args:
        type: ``"uri_folder"`` (default), ``"uri_file"``, ``"mlflow_model"``, ``"custom_model"``,
            ``"mltable"``, or a literal type ``"integer"``, ``"number"``, ``"string"``, ``"boolean"``.
        path: where the data is. A local path is used as it is (relative to the folder the job is
            submitted from); an ``http(s)://`` URL is handed to the script as it is; a cloud
            location (``azureml:``, ``wasbs://`` ...) cannot be reached here and is refused at submit.
        mode: accepted and kept (``ro_mount``, ``download`` ...); local data is used in place.
        default: the value of a literal input.
        optional: whether the input may be left out (then ``$[[ ... ]]`` parts naming it are dropped).

        >>> Input(type="uri_file", path="data/iris.csv")
        Input(type='uri_file', path='data/iris.csv')
    """

    def __init__(
        self,
        *,
        type: str = "uri_folder",  # noqa: A002 - v2's name
        path: str | os.PathLike[str] | None = None,
        mode: str | None = None,
        default: Any = None,
        optional: bool | None = None,
        description: str | None = None,
        min: Any = None,  # noqa: A002 - v2's name
        max: Any = None,  # noqa: A002 - v2's name
        enum: Any = None,
        datastore: str | None = None,
        **kwargs: Any,
    ) -> None:
        if type not in PATH_TYPES + LITERAL_TYPES:
            raise ValueError(f"Input(type=...): type must be one of {list(PATH_TYPES + LITERAL_TYPES)}, got {type!r}")
        self.type = type
        self.path = os.fspath(path) if path is not None else None
        self.mode = mode
        self.default = default
        self.optional = optional
        self.description = description
        self.min, self.max, self.enum, self.datastore = min, max, enum, datastore

    @property
    def value(self) -> Any:
        """What the command gets: the path of a path input, the default of a literal one."""
        return self.path if self.type in PATH_TYPES else self.default

    def __repr__(self) -> str:
        shown = {"type": self.type, "path": self.path, "mode": self.mode, "default": self.default}
        return f"Input({', '.join(f'{k}={v!r}' for k, v in shown.items() if v is not None)})"


class Output:
    """A job output: a folder (or file) the script writes, named by ``${{outputs.NAME}}``.

    Without ``path``, each trial gets a fresh folder of its own in the workspace
    (``ml_client.jobs.download(..., output_name=NAME)`` copies it out); with a local ``path``,
    that folder is used as it is (shared by every trial, as a fixed datastore path is in Azure).

        >>> Output(type="uri_folder", mode="rw_mount")
        Output(type='uri_folder', mode='rw_mount')
    """

    def __init__(
        self,
        *,
        type: str = "uri_folder",  # noqa: A002 - v2's name
        path: str | os.PathLike[str] | None = None,
        mode: str | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        if type not in PATH_TYPES:
            raise ValueError(f"Output(type=...): type must be one of {list(PATH_TYPES)}, got {type!r}")
        self.type = type
        self.path = os.fspath(path) if path is not None else None
        self.mode = mode
        self.description = description

    def __repr__(self) -> str:
        shown = {"type": self.type, "path": self.path, "mode": self.mode}
        return f"Output({', '.join(f'{k}={v!r}' for k, v in shown.items() if v is not None)})"


class Command:
    """A v2 command job (what ``command(...)`` returns): a shell command over inputs and outputs.

    Calling it sets inputs and returns a new command (``job(C=Uniform(0.5, 1.5))``); inputs that
    hold distributions make it sweepable with :meth:`sweep`. Submitted on its own with
    ``ml_client.jobs.create_or_update(job)``, it runs once, as a sweep of one trial.
    """

    type = "command"

    def __init__(
        self,
        *,
        command: str,
        code: str | os.PathLike[str] | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        environment: Any = None,
        environment_variables: Mapping[str, str] | None = None,
        compute: str | None = None,
        name: str | None = None,
        display_name: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        gpus: float = 0,
        **settings: Any,
    ) -> None:
        self.command = command
        self.gpus = check_gpus("command", gpus)
        self.code = os.fspath(code) if code is not None else None
        self.inputs = _check_inputs(inputs)
        self.outputs = _check_outputs(outputs)
        check_references(command, self.inputs, self.outputs)
        self.environment = environment
        self.environment_variables = dict(environment_variables or {})
        self.compute = compute
        self.name = name
        self.display_name = display_name
        self.experiment_name = experiment_name
        self.description = description
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        #: the rest of v2's arguments (distribution, resources, instance_type ...): kept, not used
        self.settings = dict(settings)

    def __call__(self, **inputs: Any) -> Command:
        """A copy with these inputs set, e.g. ``job(learning_rate=Uniform(0.001, 0.01))``."""
        unknown = sorted(set(inputs) - set(self.inputs))
        if unknown:
            raise TypeError(f"{unknown} are not inputs of this command; its inputs: {sorted(self.inputs)}")
        new = copy.deepcopy(self)
        new.inputs.update(_check_inputs(inputs))
        return new

    def sweep(
        self,
        *,
        primary_metric: str,
        goal: str,
        sampling_algorithm: str | SamplingAlgorithm = "random",
        compute: str | None = None,
        max_concurrent_trials: int | None = None,
        max_total_trials: int | None = None,
        timeout: int | None = None,
        trial_timeout: int | None = None,
        early_termination_policy: EarlyTerminationPolicy | str | None = None,
        search_space: Mapping[str, SweepDistribution] | None = None,
        **settings: Any,
    ) -> SweepJob:
        """This command as the trial of a sweep job over its distribution inputs (and ``search_space``).

        Arguments and defaults are v2's; ``goal`` is ``"maximize"``/``"minimize"`` in any case.
        """
        plain = {k: v for k, v in self.inputs.items() if not isinstance(v, SweepDistribution)}
        space = {k: v for k, v in self.inputs.items() if isinstance(v, SweepDistribution)}
        space.update(search_space or {})
        limits = SweepJobLimits(
            max_concurrent_trials=max_concurrent_trials, max_total_trials=max_total_trials,
            timeout=timeout, trial_timeout=trial_timeout,
        )
        return SweepJob(
            trial=self, search_space=space, inputs=plain, outputs=dict(self.outputs),
            sampling_algorithm=sampling_algorithm, objective=Objective(goal=goal, primary_metric=primary_metric),
            early_termination=early_termination_policy, limits=limits,
            compute=self.compute if compute is None else compute, name=self.name,
            display_name=self.display_name, experiment_name=self.experiment_name,
            description=self.description, tags=dict(self.tags), settings=settings,
        )

    def __repr__(self) -> str:
        return f"Command(command={self.command!r}, code={self.code!r}, inputs={self.inputs!r})"


def command(
    *,
    command: str,
    code: str | os.PathLike[str] | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    environment: Any = None,
    environment_variables: Mapping[str, str] | None = None,
    compute: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
    experiment_name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    properties: Mapping[str, str] | None = None,
    gpus: float = 0,
    **settings: Any,
) -> Command:
    """A command job, as ``azure.ai.ml.command`` builds it.

    Args:
        command: the shell command, naming inputs as ``${{inputs.NAME}}`` and outputs as
            ``${{outputs.NAME}}``; ``python`` in it is this kernel's interpreter.
        code: the folder the command runs in (each trial gets its own copy when the engine
            provides per-trial working directories).
        inputs: literal values (``1.0``, ``"linear"``), :class:`Input` objects, or search-space
            distributions (then call :meth:`Command.sweep`).
        outputs: :class:`Output` objects by name.
        environment, compute: accepted and kept; here every job runs in this kernel's Python
            environment on this machine (or the Dask cluster joblib is set to).
        environment_variables: set for the command.
        experiment_name: the experiment the job is listed under (default: the current folder's name).
        gpus: GPUs each trial gets (1, 2 ... or a fraction such as 0.5 to share one); 0, the default,
            hides the GPUs from the trial. Not a v2 argument: in Azure ML the compute target brings
            the GPUs, here the trial asks for them.

        >>> job = command(code="./src", command="python train.py --C ${{inputs.C}}", inputs={"C": 1.0})
        >>> job.inputs
        {'C': 1.0}
    """
    return Command(
        command=command, code=code, inputs=inputs, outputs=outputs, environment=environment,
        environment_variables=environment_variables, compute=compute, name=name, display_name=display_name,
        experiment_name=experiment_name, description=description, tags=tags, properties=properties, gpus=gpus,
        **settings,
    )


class SweepJob:
    """A sweep job: a trial command, its search space, sampling, objective, policy and limits.

    Built by ``Command.sweep(...)`` (or directly, as in v2). Before submission ``name`` and
    ``status`` are ``None``; ``ml_client.jobs.create_or_update`` returns a copy with ``name``,
    ``status``, ``properties`` (``"best_child_run_id"``, ``"score"`` once a trial has logged the
    primary metric), ``studio_url`` and ``creation_context`` filled in from the store, as they
    were at that moment (``ml_client.jobs.get(name)`` reads them again).
    """

    type = "sweep"

    def __init__(
        self,
        *,
        trial: Command | None = None,
        search_space: Mapping[str, SweepDistribution] | None = None,
        sampling_algorithm: str | SamplingAlgorithm | None = "random",
        objective: Objective | Mapping[str, str] | None = None,
        early_termination: EarlyTerminationPolicy | str | None = None,
        limits: SweepJobLimits | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Any] | None = None,
        compute: str | None = None,
        name: str | None = None,
        display_name: str | None = None,
        experiment_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        settings: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if trial is not None and not isinstance(trial, Command):
            raise TypeError(f"SweepJob(trial=...): trial must be a command(...) job, got {trial!r}")
        self.trial = trial
        self.search_space = dict(search_space or {})
        for key, dist in self.search_space.items():
            if not isinstance(dist, SweepDistribution):
                raise TypeError(
                    f"search_space[{key!r}] must be a distribution such as Choice([...]) or Uniform(0, 1), got {dist!r}"
                )
        self.sampling_algorithm = check_sampling_algorithm(sampling_algorithm or "random")
        self.objective = Objective(**objective) if isinstance(objective, Mapping) else objective
        self.early_termination = check_policy(early_termination)
        self.limits = limits if limits is not None else SweepJobLimits()
        self.inputs = _check_inputs(inputs)
        self.outputs = _check_outputs(outputs)
        self.compute = compute
        self.name = name
        self.display_name = display_name
        self.experiment_name = experiment_name
        self.description = description
        self.tags = dict(tags or {})
        self.settings = {**dict(settings or {}), **kwargs}
        # filled in on the copy that create_or_update / get return
        self.status: str | None = None
        self.properties: dict[str, str] = {}
        self.creation_context: Any = None
        self._run: Any = None

    # -- v2's setters ----------------------------------------------------------------------------
    def set_limits(
        self,
        *,
        max_concurrent_trials: int | None = None,
        max_total_trials: int | None = None,
        timeout: int | None = None,
        trial_timeout: int | None = None,
    ) -> None:
        """Set the given limits; ``None`` leaves a limit as it is (v2's rule)."""
        for key, value in (("max_concurrent_trials", max_concurrent_trials), ("max_total_trials", max_total_trials),
                           ("timeout", timeout), ("trial_timeout", trial_timeout)):
            if value is not None:
                setattr(self.limits, key, value)

    def set_objective(self, *, goal: str | None = None, primary_metric: str | None = None) -> None:
        """Set the goal and/or the primary metric; ``None`` leaves it as it is."""
        current = self.objective
        self.objective = Objective(
            goal=goal or (current.goal if current else None),
            primary_metric=primary_metric or (current.primary_metric if current else None),
        )

    def set_resources(self, **resources: Any) -> None:
        """Accepted and kept (instance type and count mean nothing on this machine)."""
        self.settings.setdefault("resources", {}).update(resources)

    # -- what was submitted ------------------------------------------------------------------------
    @property
    def id(self) -> str | None:
        """The local job id once submitted (the parent run's id in the hdnotebook store)."""
        return None if self._run is None else self._run.id

    @property
    def studio_url(self) -> str | None:
        """Where the job is shown: the hdnotebook page of the Jupyter server (``/hdnotebook``)."""
        return None if self._run is None else f"/hdnotebook#{self._run.id}"

    @property
    def store(self) -> Any:
        """The store the submitted job lives in (what ``RunDetails(job)`` reads)."""
        if self._run is None:
            raise AttributeError("this sweep job has not been submitted: ml_client.jobs.create_or_update(job) first")
        return self._run.store

    def cancel(self) -> None:
        """Stop the submitted sweep (what ``ml_client.jobs.begin_cancel(name)`` does)."""
        self._submitted().cancel()

    def cancel_child(self, run_id: str) -> None:
        """Stop one trial (used by the ``RunDetails`` widget's buttons)."""
        self._submitted().cancel_child(run_id)

    def _submitted(self) -> Any:
        if self._run is None:
            raise RuntimeError("this sweep job has not been submitted: ml_client.jobs.create_or_update(job) first")
        return self._run

    def _repr_html_(self) -> str:
        rows = {"Experiment": self.experiment_name, "Name": self.name, "Type": self.type, "Status": self.status}
        head = "".join(f"<th>{k}</th>" for k in rows)
        body = "".join(f"<td>{'' if v is None else v}</td>" for v in rows.values())
        return f"<table style='width:100%'><tr>{head}</tr><tr>{body}</tr></table>"

    def __repr__(self) -> str:
        objective = self.objective
        return (
            f"SweepJob(name={self.name!r}, status={self.status!r}, experiment_name={self.experiment_name!r}, "
            f"primary_metric={getattr(objective, 'primary_metric', None)!r}, goal={getattr(objective, 'goal', None)!r}, "
            f"search_space={self.search_space!r}, limits={self.limits!r})"
        )


def _check_inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a dict such as {{'C': 1.0, 'data': Input(path='data')}}, got {inputs!r}")
    for key, value in inputs.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"input names must be identifiers (letters, digits, _), got {key!r}")
        if not isinstance(value, (Input, SweepDistribution, str, int, float, bool)) and value is not None:
            raise TypeError(
                f"input {key!r} must be a number, a string, a bool, an Input(...) or a distribution such as "
                f"Choice([...]); got {value!r}"
            )
    return dict(inputs)


def _check_outputs(outputs: Mapping[str, Any] | None) -> dict[str, Output]:
    if outputs is None:
        return {}
    if not isinstance(outputs, Mapping):
        raise TypeError(f"outputs must be a dict such as {{'model': Output(type='uri_folder')}}, got {outputs!r}")
    checked: dict[str, Output] = {}
    for key, value in outputs.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"output names must be identifiers (letters, digits, _), got {key!r}")
        if value is None:
            value = Output()
        if not isinstance(value, Output):
            raise TypeError(f"output {key!r} must be an Output(...), got {value!r}")
        checked[key] = value
    return checked
