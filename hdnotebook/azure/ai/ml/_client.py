"""``MLClient`` and its operations: ``jobs`` runs v2 jobs on the local engine; the rest are inert stand-ins.

    ml_client = MLClient(DefaultAzureCredential(), subscription_id, resource_group, workspace)
    returned_job = ml_client.jobs.create_or_update(sweep_job)     # returns at once; trials run
    ml_client.jobs.stream(returned_job.name)                      # prints progress until it ends
    best = ml_client.jobs.get(returned_job.name).properties["best_child_run_id"]

Jobs live in an hdnotebook :class:`~hdnotebook.Workspace`: ``./.hdnotebook`` under the current
folder unless ``MLClient(..., workspace_path=...)`` says otherwise; a restarted kernel finds them
again by name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .... import run_files
from ...._vocab import TERMINAL_STATUSES, RunStatus
from ....engine.gpus import detect_gpus
from ....workspace import Experiment, Workspace
from ._command import Command, SweepJob
from ._jobs import (TAG_DISPLAY_NAME, TAG_KIND, TAG_NAME, TAG_SPEC, child_view, find_job_run, job_kind, job_view,
                    load_spec)
from ._translate import plan_job
from .entities import AmlCompute, Data, Environment, Model
from .exceptions import JobException, ResourceNotFoundError, ValidationException

__all__ = ["MLClient", "JobOperations", "ComputeOperations", "EnvironmentOperations", "ModelOperations",
           "DataOperations"]

#: folder of the workspace that holds what v2 jobs need besides the store (launcher specs, outputs)
JOBS_FOLDER = "azure-ml"
#: how v2 names a job's files
JOB_ARTIFACT_PREFIX = "azureml://jobs/"
_SAID: set[str] = set()


def say_once(key: str, text: str) -> None:
    """Print a note about a local stand-in the first time it matters in this process."""
    if key not in _SAID:
        _SAID.add(key)
        print(f"[hdnotebook] {text}", file=sys.stderr, flush=True)


class _DonePoller:
    """What ``begin_*`` returns in v2 (an LRO poller), already done; attributes read through to the result."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self, timeout: float | None = None) -> Any:
        return self._result

    def wait(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def status(self) -> str:
        return "Succeeded"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)


class MLClient:
    """``azure.ai.ml.MLClient``, local: jobs run on this machine through hdnotebook's engine.

    Args:
        credential: any credential (e.g. ``hdnotebook.azure.identity.DefaultAzureCredential()``);
            kept, not used.
        subscription_id, resource_group_name, workspace_name: kept (shown in ``repr``), not used.
        workspace_path: the local workspace folder (default ``./.hdnotebook``).

        >>> from hdnotebook.azure.identity import DefaultAzureCredential
        >>> ml_client = MLClient(DefaultAzureCredential(), "<SUBSCRIPTION_ID>", "<RESOURCE_GROUP>", "<WORKSPACE>",
        ...                      workspace_path="/tmp/hd-doc-v2")   # doctest: +SKIP
    """

    def __init__(
        self,
        credential: Any,
        subscription_id: str | None = None,
        resource_group_name: str | None = None,
        workspace_name: str | None = None,
        registry_name: str | None = None,
        *,
        workspace_path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if credential is None:
            raise ValueError("MLClient(credential, ...): credential can not be None, e.g. DefaultAzureCredential()")
        self.credential = credential
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        self.workspace_name = workspace_name
        self.registry_name = registry_name
        self.local_workspace = Workspace(workspace_path)
        self.jobs = JobOperations(self.local_workspace)
        self.compute = ComputeOperations()
        self.environments = EnvironmentOperations()
        self.models = ModelOperations(self.local_workspace)
        self.data = DataOperations()
        say_once("MLClient", (
            "MLClient is a local stand-in: jobs run on this machine through hdnotebook and are stored in "
            f"{self.local_workspace.path}; subscription, resource group, workspace name, compute and "
            "environments are kept but not used."
        ))

    @classmethod
    def from_config(cls, credential: Any, *, path: str | os.PathLike[str] | None = None,
                    file_name: str | None = None, **kwargs: Any) -> MLClient:
        """A client from ``config.json`` (in ``path``, the current folder or a parent, or their ``.azureml/``).

        The names in it are kept as the constructor's; without one the client works all the same.
        """
        found = _find_config(path, file_name)
        names: dict[str, Any] = {}
        if found is not None:
            with open(found, encoding="utf-8") as f:
                names = json.load(f)
        else:
            say_once("from_config", "MLClient.from_config: no config.json found; using the local workspace only.")
        return cls(
            credential, names.get("subscription_id"), names.get("resource_group"),
            names.get("workspace_name"), **kwargs,
        )

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """Submit a job, or keep an asset (environment, model, data, compute), by its type."""
        if isinstance(entity, (Command, SweepJob)):
            return self.jobs.create_or_update(entity, **kwargs)
        if isinstance(entity, Environment):
            return self.environments.create_or_update(entity)
        if isinstance(entity, Model):
            return self.models.create_or_update(entity)
        if isinstance(entity, Data):
            return self.data.create_or_update(entity)
        if isinstance(entity, AmlCompute):
            return self.compute.begin_create_or_update(entity).result()
        raise TypeError(f"create_or_update: cannot create {entity!r} here")

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> _DonePoller:
        """As :meth:`create_or_update`, returned as a finished poller (``.result()``)."""
        return _DonePoller(self.create_or_update(entity, **kwargs))

    def __repr__(self) -> str:
        return (f"MLClient(local: {self.local_workspace.path!r}, subscription_id={self.subscription_id!r}, "
                f"resource_group_name={self.resource_group_name!r}, workspace_name={self.workspace_name!r})")


def _find_config(path: str | os.PathLike[str] | None, file_name: str | None) -> str | None:
    names = [file_name] if file_name else ["config.json"]
    start = os.path.abspath(os.fspath(path) if path is not None else os.getcwd())
    if os.path.isfile(start):
        return start
    folder = start
    while True:
        for name in names:
            for candidate in (os.path.join(folder, name), os.path.join(folder, ".azureml", name)):
                if os.path.isfile(candidate):
                    return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


class JobOperations:
    """``ml_client.jobs``: submit, follow, find, cancel and download jobs."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._submitted: dict[str, Any] = {}

    # -- submit ----------------------------------------------------------------------------------
    def create_or_update(
        self,
        job: Command | SweepJob,
        *,
        description: str | None = None,
        compute: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        skip_validation: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Start ``job`` and return it as submitted (``name``, ``status``, ``studio_url``) at once.

        A sweep job's trials run in the background, as many at a time as ``max_concurrent_trials``
        (and the machine) allow; a command job runs once. Every mistake in the job is raised here.
        """
        root = os.path.join(self._workspace.path, JOBS_FOLDER)
        spec_path = os.path.join(root, "specs", f"{uuid.uuid4().hex}.json")
        # the folder a job without code= runs in (empty, as in Azure ML); plan_job checks it exists
        os.makedirs(os.path.join(os.path.dirname(spec_path), "empty-code"), exist_ok=True)
        try:
            plan = plan_job(job, spec_path=spec_path, outputs_root=os.path.join(root, "outputs"),
                            cwd=os.getcwd(), experiment_name=experiment_name)
        except ValueError as exc:
            raise ValidationException(str(exc)) from exc
        if job.name is not None and self._exists(job.name):
            raise ValidationException(f"a job named {job.name!r} exists already; give the new one another name")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(plan.spec, f, indent=1)
        run_tags = {**{str(k): str(v) for k, v in {**job.tags, **(tags or {})}.items()},
                    TAG_KIND: plan.kind, TAG_SPEC: spec_path}
        if job.name is not None:
            run_tags[TAG_NAME] = job.name
        if job.display_name is not None:
            run_tags[TAG_DISPLAY_NAME] = job.display_name
        trial = job.trial if isinstance(job, SweepJob) else job
        for what, value in (("compute", compute or job.compute), ("environment", trial.environment)):
            if value is not None:
                say_once(what, f"{what} {value!r} is kept but not used: jobs run on this machine, in this "
                               "kernel's Python environment.")
        if not plan.config.gpus_per_trial:
            gpu_ids = detect_gpus()
            if gpu_ids:
                say_once("gpus", f"this machine has {len(gpu_ids)} GPU(s); a trial sees them only when its command "
                                 "asks: command(..., gpus=1), or a fraction such as 0.5 to share one.")
        run = Experiment(self._workspace, plan.experiment_name).submit(plan.config, tags=run_tags)
        submitted = job_view(run, job)
        self._submitted[run.id] = job
        return submitted

    def _exists(self, name: str) -> bool:
        try:
            find_job_run(self._workspace, name)
        except ResourceNotFoundError:
            return False
        return True

    # -- find ------------------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The job (a ``SweepJob`` or ``CommandJob``) or sweep trial (a ``CommandJob``) called ``name``, as now."""
        run, child_id = find_job_run(self._workspace, name)
        if child_id is not None:
            return child_view(run, child_id)
        return job_view(run, self._submitted.get(run.id))

    def list(self, *, parent_job_name: str | None = None, list_view_type: Any = None, **kwargs: Any) -> Iterator[Any]:
        """The trials of ``parent_job_name`` (as ``CommandJob``), or else every job of the workspace, newest first."""
        if parent_job_name is not None:
            run, _ = find_job_run(self._workspace, parent_job_name)
            spec = load_spec(run)
            return iter([child_view(run, c.id, spec) for c in run.get_children()])
        store = self._workspace.store
        store.flush()
        jobs = []
        for experiment in store.experiments():
            for run in Experiment(self._workspace, experiment).get_runs():
                jobs.append((run.get_details().get("startTimeUtc") or "", job_view(run, self._submitted.get(run.id))))
        jobs.sort(key=lambda pair: pair[0], reverse=True)
        return iter([job for _, job in jobs])

    # -- follow and control ------------------------------------------------------------------------
    def stream(self, name: str) -> None:
        """Print the job's progress until it ends; raises :class:`JobException` when it failed."""
        run, child_id = find_job_run(self._workspace, name)
        url = f"/hdnotebook#{child_id or run.id}"
        print(f"RunId: {name}\nWeb View: {url}\n", flush=True)
        if child_id is None:
            details = run.wait_for_completion(show_output=True)
            status, error = details["status"], details["properties"].get("error")
        else:
            child = next(c for c in run.get_children() if c.id == child_id)
            while child.get_status() not in TERMINAL_STATUSES:
                time.sleep(0.25)
            child_details = child.get_details()
            status, error = child_details["status"], child_details.get("error", {}).get("message")
        print(f"\nExecution Summary\n=================\nRunId: {name}\nWeb View: {url}\n", flush=True)
        if status == RunStatus.FAILED:
            raise JobException(f"job {name!r} failed: {error or 'see the trials (ml_client.jobs.list(parent_job_name=...))'}")

    def begin_cancel(self, name: str, **kwargs: Any) -> _DonePoller:
        """Cancel a job (every trial stops) or one sweep trial; returns a finished poller."""
        run, child_id = find_job_run(self._workspace, name)
        if child_id is None:
            run.cancel()
        else:
            run.cancel_child(child_id)
        return _DonePoller(None)

    def download(self, name: str, *, download_path: str | os.PathLike[str] = ".", output_name: str | None = None,
                 all: bool = False) -> None:  # noqa: A002 - v2's name
        """Copy a finished job's files into ``download_path`` (v2's layout).

        Without ``output_name``: the trial's own files (``outputs/``, ``logs/``, its output log) into
        ``artifacts/``, and with ``all=True`` every named output too; ``output_name`` copies that one
        named output into ``named-outputs/<output_name>``. For a sweep job, the best trial's files.
        """
        run, child_id = find_job_run(self._workspace, name)
        status = run.get_status() if child_id is None else child_view(run, child_id).status
        if status not in TERMINAL_STATUSES:
            raise JobException(
                f"job {name!r} is {status}; download is allowed only once it ended ({sorted(TERMINAL_STATUSES)})"
            )
        if child_id is None:
            if job_kind(run) == "command":
                children = run.get_children()
                child_id = children[0].id if children else None
            else:
                best = run.get_best_run_by_primary_metric()
                child_id = best.id if best is not None else None
        if child_id is None:
            raise JobException(f"job {name!r} has no trial with the primary metric to download from")
        trial = child_view(run, child_id)
        if output_name is None:  # the trial's own files: outputs/, logs/ and its output log
            run_dir = run_files.run_directory(self._workspace.path, child_id)
            for file_name in run_files.list_file_names(run_dir):
                target = os.path.join(os.fspath(download_path), "artifacts", file_name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(run_files.resolve_file(run_dir, file_name), target)
        wanted = [output_name] if output_name is not None else (list(trial.outputs) if all else [])
        for key in wanted:
            if key not in trial.outputs:
                raise JobException(f"job {name!r} has no output {key!r}; its outputs: {sorted(trial.outputs)}")
            source = trial.outputs[key].path
            target = os.path.join(os.fspath(download_path), "named-outputs", key)
            if os.path.isdir(source):
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif os.path.exists(source):
                os.makedirs(target, exist_ok=True)
                shutil.copy2(source, target)


class ComputeOperations:
    """``ml_client.compute``: clusters are kept, not created; jobs run on this machine."""

    def __init__(self) -> None:
        self._computes: dict[str, AmlCompute] = {}

    def get(self, name: str) -> AmlCompute:
        """A kept compute, or a stand-in for this machine under that name."""
        say_once("compute", f"compute {name!r} is kept but not used: jobs run on this machine, in this kernel's "
                            "Python environment.")
        return self._computes.get(name) or AmlCompute(name=name, size="local", type="local")

    def begin_create_or_update(self, compute: AmlCompute, **kwargs: Any) -> _DonePoller:
        self._computes[compute.name] = compute
        return _DonePoller(compute)

    def list(self, **kwargs: Any) -> Iterator[AmlCompute]:
        return iter(list(self._computes.values()))


class _AssetOperations:
    """Assets kept in memory by name and version (versions count up from 1)."""

    kind = "asset"

    def __init__(self) -> None:
        self._assets: dict[tuple[str, str], Any] = {}

    def create_or_update(self, asset: Any, **kwargs: Any) -> Any:
        if asset.version is None:
            versions = [int(v) for (n, v) in self._assets if n == asset.name and str(v).isdigit()]
            asset.version = str(max(versions, default=0) + 1)
        self._assets[(asset.name, str(asset.version))] = asset
        return asset

    def get(self, name: str, version: str | None = None, label: str | None = None, **kwargs: Any) -> Any:
        matches = {v: a for (n, v), a in self._assets.items() if n == name}
        if not matches:
            raise ResourceNotFoundError(f"no {self.kind} named {name!r} here (assets live in this kernel only)")
        if version is not None:
            if str(version) not in matches:
                raise ResourceNotFoundError(f"{self.kind} {name!r} has no version {version!r}: {sorted(matches)}")
            return matches[str(version)]
        return matches[max(matches, key=lambda v: int(v) if v.isdigit() else -1)]

    def list(self, name: str | None = None, **kwargs: Any) -> Iterator[Any]:
        return iter([a for (n, _), a in self._assets.items() if name is None or n == name])


class EnvironmentOperations(_AssetOperations):
    """``ml_client.environments``: kept, not built; jobs use this kernel's Python environment."""

    kind = "environment"


class ModelOperations(_AssetOperations):
    """``ml_client.models``: kept by name and version (the files stay where they are).

    A path ``azureml://jobs/<job>/outputs/artifacts/paths/<path>`` (how v2 samples name a trial's
    files) becomes the local path of that job's file.
    """

    kind = "model"

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self._workspace = workspace

    def create_or_update(self, asset: Any, **kwargs: Any) -> Any:
        path = getattr(asset, "path", None)
        if isinstance(path, str) and path.startswith(JOB_ARTIFACT_PREFIX):
            asset.path = self._job_file(path)
        return super().create_or_update(asset, **kwargs)

    def _job_file(self, uri: str) -> str:
        job, _, rest = uri[len(JOB_ARTIFACT_PREFIX):].partition("/")
        marker = "outputs/artifacts/paths/"
        if not rest.startswith(marker):
            raise ValidationException(f"model path {uri!r}: expected azureml://jobs/<job>/{marker}<path>")
        run, child_id = find_job_run(self._workspace, job)
        run_id = child_id or run.id
        if child_id is None:  # a command job submitted alone: its one trial holds the files
            children = run.get_children()
            run_id = children[0].id if children else run.id
        file_name = rest[len(marker):].rstrip("/") or "outputs"
        try:
            return run_files.resolve_file(run_files.run_directory(self._workspace.path, run_id), file_name)
        except (FileNotFoundError, ValueError) as exc:
            raise ResourceNotFoundError(f"model path {uri!r}: {exc}") from None


class DataOperations(_AssetOperations):
    """``ml_client.data``: kept by name and version (the files stay where they are)."""

    kind = "data asset"
