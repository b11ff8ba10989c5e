"""Submitted v2 jobs as the store has them: the objects ``ml_client.jobs.get``/``list`` return.

A sweep job is an hdnotebook experiment run (its ``name`` is the parent run's id unless the job
was given one); its trials are the child runs ``<name>_0``, ``<name>_1`` ... shown as
:class:`~hdnotebook.azure.ai.ml.entities.CommandJob`. What v2 keeps in the job's
``properties`` is here too: ``best_child_run_id`` and ``score`` (text, as the service writes them)
once a trial has logged the primary metric.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from ...._vocab import best_value
from ....experiment_run import HyperDriveRun
from ....workspace import Experiment, Workspace
from . import _launch
from ._command import Output, SweepJob
from ._sweep_settings import Objective, SweepJobLimits
from .entities import CommandJob, _CreationContext
from .exceptions import ResourceNotFoundError

__all__ = ["TAG_KIND", "TAG_NAME", "TAG_SPEC", "find_job_run", "sweep_view", "command_view", "child_view"]

#: what the parent run's tags keep about the v2 job (all text)
TAG_KIND = "azure.ai.ml.type"
TAG_NAME = "azure.ai.ml.name"
TAG_DISPLAY_NAME = "azure.ai.ml.display_name"
TAG_SPEC = "azure.ai.ml.spec"


def job_tags(run_details: dict[str, Any]) -> dict[str, str]:
    return dict(run_details.get("tags") or {})


def find_job_run(workspace: Workspace, name: str) -> tuple[HyperDriveRun, str | None]:
    """The experiment run of job ``name`` and, when ``name`` is one of its trials, that trial's id.

    Raises:
        ResourceNotFoundError: no job or trial with that name in this workspace.
    """
    store = workspace.store
    store.flush()
    row = store.run(name)
    if row is not None:
        parent_id = row.id if row.parent_id is None else row.parent_id
        return _experiment_run(workspace, row.experiment, parent_id), None if row.parent_id is None else row.id
    for experiment in store.experiments():
        for parent in store.parent_runs(experiment):
            if job_tags(parent.details).get(TAG_NAME) == name:
                return _experiment_run(workspace, experiment, parent.id), None
    raise ResourceNotFoundError(f"no job named {name!r} in the workspace {workspace.path}")


def _experiment_run(workspace: Workspace, experiment: str, run_id: str) -> HyperDriveRun:
    """The run as ``Experiment.get_runs`` has it: live (cancel acts at once) when this kernel runs it."""
    for run in Experiment(workspace, experiment).get_runs():
        if run.id == run_id:
            return run
    raise ResourceNotFoundError(f"experiment run {run_id!r} is not in experiment {experiment!r}")


def job_name(run: HyperDriveRun) -> str:
    return job_tags(run.get_details()["properties"]).get(TAG_NAME) or run.id


def load_spec(run: HyperDriveRun) -> dict[str, Any] | None:
    path = job_tags(run.get_details()["properties"]).get(TAG_SPEC)
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sweep_properties(run: HyperDriveRun) -> dict[str, str]:
    """v2's sweep-job properties: the objective, and the best trial with its score once there is one."""
    details = run.get_details()["properties"]
    properties = {
        "runTemplate": "HyperDrive",
        "primary_metric_config": json.dumps({"name": details["primary_metric_name"], "goal": details["goal"]}),
    }
    best = run.get_best_run_by_primary_metric()
    if best is not None:
        score = best_value(run.primary_values()[best.id], run.goal)
        properties.update({"best_child_run_id": best.id, "score": repr(score), "best_metric_status": "Succeeded"})
    return properties


def _created(run: Any) -> _CreationContext:
    return _CreationContext(run.get_details().get("startTimeUtc"))


def sweep_view(run: HyperDriveRun, original: SweepJob | None = None) -> SweepJob:
    """The sweep job ``run`` is, now: a copy of ``original`` (when this kernel submitted it) with
    ``name``, ``status``, ``properties`` and ``creation_context`` from the store."""
    details = run.get_details()
    stored = details["properties"]
    if original is not None:
        job = copy.copy(original)
        job.limits = copy.copy(original.limits)
    else:
        job = SweepJob(
            objective=Objective(goal=stored["goal"], primary_metric=stored["primary_metric_name"]),
            limits=SweepJobLimits(max_total_trials=stored.get("max_total_runs"),
                                  max_concurrent_trials=stored.get("max_concurrent_runs")),
        )
    tags = job_tags(stored)
    job.name = tags.get(TAG_NAME) or run.id
    job.display_name = tags.get(TAG_DISPLAY_NAME) or job.display_name or job.name
    job.experiment_name = run.experiment_name
    job.status = details["status"]
    job.properties = sweep_properties(run)
    job.creation_context = _created(run)
    job._run = run
    return job


def child_view(run: HyperDriveRun, child_id: str, spec: dict[str, Any] | None = None) -> CommandJob:
    """Trial ``child_id`` of ``run`` as a v2 command job, its command and outputs filled in."""
    spec = spec if spec is not None else load_spec(run)
    child = next((c for c in run.get_children() if c.id == child_id), None)
    if child is None:
        raise ResourceNotFoundError(f"{child_id!r} is not a trial of {run.id!r}")
    details = child.get_details()
    job = CommandJob(
        name=child.id, display_name=child.id, status=details["status"], experiment_name=run.experiment_name,
        parent_job_name=job_name(run), studio_url=f"/hdnotebook#{child.id}",
        creation_context=_CreationContext(details.get("startTimeUtc")),
        properties={k: str(v) for k, v in details.get("properties", {}).items() if isinstance(v, (str, int, float))},
    )
    if spec is not None:
        _, sampled = _launch.parse_arguments(details["runDefinition"]["Arguments"])
        job.command, _ = _launch.resolve(spec, sampled, child.id)
        job.inputs = {**{k: v for k, v in spec["inputs"].items() if v is not None}, **sampled}
        job.outputs = {
            name: Output(path=path if path is not None else _launch.output_folder(spec["outputs_root"], child.id, name))
            for name, path in spec["outputs"].items()
        }
    return job


def command_view(run: HyperDriveRun) -> CommandJob:
    """A command job submitted on its own: its one trial, under the job's name and status."""
    children = run.get_children()
    if children:
        job = child_view(run, children[0].id)
    else:
        job = CommandJob(experiment_name=run.experiment_name)
    job.name = job_name(run)
    job.display_name = job_tags(run.get_details()["properties"]).get(TAG_DISPLAY_NAME) or job.name
    job.status = run.get_status()
    job.parent_job_name = None
    job.studio_url = f"/hdnotebook#{run.id}"
    job.creation_context = _created(run)
    return job


def job_kind(run: HyperDriveRun) -> str:
    """``"command"`` for a command job submitted alone, else ``"sweep"``."""
    return "command" if job_tags(run.get_details()["properties"]).get(TAG_KIND) == "command" else "sweep"


def job_view(run: HyperDriveRun, original: Any = None) -> Any:
    """The v2 view of an experiment run: a SweepJob, or a CommandJob for a command submitted alone."""
    if job_kind(run) == "command":
        return command_view(run)
    return sweep_view(run, original if isinstance(original, SweepJob) else None)
