"""``Run`` (``azureml.core.run``): a run read from the workspace, and the trial's own run.

In a training script, ``Run.get_context()`` is the trial's live run: ``log``, ``log_list``,
``log_row``, ``log_table``, ``log_image`` (which never fails the trial), ``tag``,
``upload_file`` and ``parent`` work as in Azure ML; outside an experiment it is an offline run.

In the notebook, ``Run(experiment, run_id)`` (or a child of a ``HyperDriveRun``) reads a stored
run: ``get_status()``, ``get_metrics()``, ``get_details()`` (``["runDefinition"]["arguments"]``),
``tags``, ``properties``, ``get_file_names()``, ``download_file(s)``, ``register_model``.

>>> run = Run.get_context()                    # doctest: +SKIP
>>> run.log("accuracy", 0.93)                  # doctest: +SKIP
>>> run.upload_file("outputs/cm.png", "cm.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from ... import run_files
from ..._vocab import TERMINAL_STATUSES, RunStatus
from ...experiment_run import StoredRun as _StoredRun
from ...run import Run as _BaseRun
from .._local import announce
from .._metric_values import decode_metrics, encode_row, encode_table, first_error_line
from ..exceptions import ActivityFailedException, UserErrorException

__all__ = ["Run", "get_run"]


def _workspace_path(store: Any) -> str:
    return os.path.dirname(store.path)


def _upload_files(upload_file: Callable[[str, str], None], names: list[str], paths: list[str]) -> None:
    """``run.upload_files``: each path under its name (the SDK's check of the two lists first)."""
    if len(names) != len(paths):
        raise TypeError(f"names and paths must be lists of equal lengths, got {len(names)} and {len(paths)}")
    for name, path in zip(names, paths):
        upload_file(name, path)


def _upload_folder(upload_file: Callable[[str, str], None], name: str, path: str) -> None:
    """``run.upload_folder``: every file under ``path``, named ``name/<its path below path>``."""
    for folder, _dirs, files in os.walk(path):
        for file in files:
            full = os.path.join(folder, file)
            upload_file(f"{name.rstrip('/')}/{os.path.relpath(full, path).replace(os.sep, '/')}", full)


class _AzureRunAPI:
    """What every stored run (child, single script run, HyperDrive run) has in the SDK's shape.

    Needs ``self.id``, ``self._store`` and ``self._experiment`` from the class it is mixed into.
    """

    id: str
    _store: Any
    _experiment: Any

    # -- identity --------------------------------------------------------------------------------
    @property
    def experiment(self) -> Any:
        """The :class:`~hdnotebook.azureml.core.Experiment` of the run."""
        return self._experiment

    @property
    def name(self) -> str:
        return self.id

    @property
    def display_name(self) -> str:
        return self.id

    @property
    def status(self) -> str:
        return self.get_status()  # type: ignore[attr-defined]

    @property
    def _run_dir(self) -> str:
        return run_files.run_directory(_workspace_path(self._store), self.id)

    def _row_details(self) -> dict[str, Any]:
        self._store.flush()
        row = self._store.run(self.id)
        return dict(row.details) if row is not None else {}

    @property
    def properties(self) -> dict[str, str]:
        """Properties of the run (what the engine recorded about it), as strings."""
        details = self._row_details()
        skip = {"output", "traceback", "arguments", "tags", "space"}
        return {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in details.items() if k not in skip}

    def get_properties(self) -> dict[str, str]:
        return self.properties

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties (kept in the run's ``run.json``)."""
        run_files.update_run_json(self._run_dir, "properties", {k: str(v) for k, v in (properties or {}).items()})

    @property
    def tags(self) -> dict[str, Any]:
        """Tags: those given at submit, then those set with :meth:`tag` (by the run or here)."""
        stored = self._row_details().get("tags") or {}
        return {**stored, **run_files.read_run_json(self._run_dir).get("tags", {})}

    def get_tags(self) -> dict[str, Any]:
        return self.tags

    def tag(self, key: str, value: Any = None) -> None:
        """Tag the run with ``key`` (and an optional value)."""
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any] | str) -> None:
        if isinstance(tags, str):
            tags = {tags: None}
        run_files.update_run_json(self._run_dir, "tags", {str(k): None if v is None else str(v) for k, v in tags.items()})

    def remove_tags(self, tags: list[str]) -> None:
        kept = {k: v for k, v in run_files.read_run_json(self._run_dir).get("tags", {}).items() if k not in tags}
        run_files.update_run_json(self._run_dir, "tags", kept, replace=True)

    def get_portal_url(self) -> str:
        """Where to look at the run: the Jupyter server's ``/hdnotebook`` page, else the run's folder."""
        try:
            from jupyter_server.serverapp import list_running_servers

            for server in list_running_servers():
                return f"{server['url'].rstrip('/')}/hdnotebook?run={self.id}"
        except Exception:  # no server package, or an unreadable runtime dir
            pass
        return f"file://{self._run_dir}"

    # -- files -----------------------------------------------------------------------------------
    def get_file_names(self) -> list[str]:
        """The run's files: ``outputs/...``, ``logs/...``, uploaded files, ``azureml-logs/...``."""
        return run_files.list_file_names(self._run_dir)

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False) -> None:
        """Copy the run's file ``name`` to ``output_file_path`` (a file or folder; default: its basename here)."""
        source = run_files.resolve_file(self._run_dir, name)
        if os.path.isdir(source):
            raise UserErrorException(f"download_file({name!r}): that is a folder; use download_files(prefix={name!r})")
        target = output_file_path or os.path.basename(name)
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(name))
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        shutil.copyfile(source, target)

    def download_files(self, prefix: str | None = None, output_directory: str | None = None,
                       output_paths: list[str] | None = None, batch_size: int = 100, append_prefix: bool = True,
                       timeout_seconds: int | None = None) -> None:
        """Copy every file whose name starts with ``prefix`` under ``output_directory`` (default: here)."""
        names = [n for n in self.get_file_names() if prefix is None or n.startswith(prefix)]
        if prefix is not None and not names:
            raise UserErrorException(f"download_files(prefix={prefix!r}): the run has no such files; "
                                     f"its files: {', '.join(self.get_file_names()) or 'none'}")
        if output_paths is not None and len(output_paths) != len(names):
            raise UserErrorException(f"download_files: output_paths has {len(output_paths)} paths for {len(names)} files")
        for i, name in enumerate(names):
            if output_paths is not None:
                target = output_paths[i]
            else:
                relative = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
                target = os.path.join(output_directory or ".", relative)
            self.download_file(name, target)

    def upload_file(self, name: str, path_or_stream: str | IO[bytes], datastore_name: str | None = None) -> None:
        """Store a file with the run under ``name``."""
        run_files.save_file(self._run_dir, name, path_or_stream)

    def upload_files(self, names: list[str], paths: list[str], return_artifacts: bool = False,
                     timeout_seconds: int | None = None, datastore_name: str | None = None) -> None:
        _upload_files(self.upload_file, names, paths)

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        _upload_folder(self.upload_file, name, path)

    def register_model(self, model_name: str, model_path: str | None = None, tags: dict[str, Any] | None = None,
                       properties: dict[str, Any] | None = None, model_framework: str | None = None,
                       model_framework_version: str | None = None, description: str | None = None,
                       datasets: Any = None, sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                       resource_configuration: Any = None, **kwargs: Any) -> Any:
        """Register the run's file or folder ``model_path`` (default: ``model_name``) as a model version.

        >>> model = best_run.register_model("sklearn-iris", model_path="outputs/model.joblib")  # doctest: +SKIP
        >>> model.name, model.version                                                        # doctest: +SKIP
        ('sklearn-iris', 1)
        """
        from .model import Model

        source = run_files.resolve_file(self._run_dir, model_path or model_name)
        return Model._register(
            self._experiment.workspace, source, model_name, tags=tags, properties=properties,
            description=description, model_framework=model_framework,
            model_framework_version=model_framework_version, run_id=self.id,
            experiment_name=self._experiment.name)

    # -- following -------------------------------------------------------------------------------
    def _raise_if_failed(self, details: dict[str, Any]) -> None:
        if details.get("status") == RunStatus.FAILED:
            error = details.get("error") or {"message": "Detailed error not set on the Run."}
            raise ActivityFailedException(json.dumps({"error": error}, indent=4, default=str))


class Run(_AzureRunAPI, _StoredRun):
    """A run of an experiment, read from the workspace (``Run(experiment, run_id)``).

    Args:
        experiment: the run's :class:`~hdnotebook.azureml.core.Experiment`.
        run_id: its id (e.g. ``"HD_0b1c2d3e4f56_3"`` for a HyperDrive child run).
    """

    def __init__(self, experiment: Any, run_id: str, outputs: Any = None, **kwargs: Any) -> None:
        if not isinstance(run_id, str) or not run_id:
            raise TypeError(f"Run(experiment, run_id): run_id must be a run's id, got {run_id!r}")
        store = experiment.store
        super().__init__(store, run_id, kwargs.get("_row"))
        self._experiment = experiment

    # -- the trial's own run ---------------------------------------------------------------------
    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **kwargs: Any) -> Any:
        """The run of the trial this code runs in (an offline run outside an experiment)."""
        return _LiveRun(_BaseRun.get_context(allow_offline=allow_offline))

    @classmethod
    def get_submitted_run(cls, **kwargs: Any) -> Any:
        return cls.get_context()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def type(self) -> str:
        return "azureml.scriptrun"

    @property
    def parent(self) -> Any:
        """The experiment run this run belongs to, or ``None``."""
        row = self._fresh()
        if row.parent_id is None:
            return None
        from ..train.hyperdrive.run import HyperDriveRun

        return HyperDriveRun(self._experiment, row.parent_id)

    def get_details(self) -> dict[str, Any]:
        """The run's details in the SDK's shape: ``runDefinition.arguments`` (``Arguments`` too),
        ``target``, ``properties``, ``logFiles``; ``error`` for a Failed run."""
        details = super().get_details()
        arguments = details["runDefinition"]["Arguments"]
        details["runDefinition"] = {
            "arguments": arguments, "Arguments": arguments, "script": self._row_details().get("script"),
            "target": "local",
        }
        details["target"] = "local"
        details["properties"] = self.properties
        details["tags"] = self.tags
        details["submittedBy"] = os.environ.get("USER", "local")
        log = os.path.join(run_files.files_directory(self._run_dir), run_files.DRIVER_LOG)
        details["logFiles"] = {run_files.DRIVER_LOG: log} if os.path.isfile(log) else {}
        details.setdefault("inputDatasets", [])
        details.setdefault("outputDatasets", [])
        return details

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        """``name -> value`` (a list when logged more than once; rows and tables as column dicts)."""
        self._store.flush()
        if recursive:
            return {self.id: self.get_metrics(name), **{c.id: c.get_metrics(name) for c in self.get_children()}}
        rows = self._store.metrics([self.id], name)
        return decode_metrics([(m.name, m.logged) for m in rows])

    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,
                     type: str | None = None, status: str | None = None, _rehydrate_runs: bool = True) -> Iterator[Run]:
        """The run's child runs (a HyperDrive run's trials), oldest first."""
        self._store.flush()
        for row in self._store.child_runs(self.id):
            if status is None or row.status == status:
                yield Run(self._experiment, row.id, _row=row)

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Wait until the run has ended; returns :meth:`get_details`.

        ``show_output`` streams the run's output as it is written; ``raise_on_error`` raises
        :class:`~hdnotebook.azureml.exceptions.ActivityFailedException` when it Failed.
        """
        log = os.path.join(run_files.files_directory(self._run_dir), run_files.DRIVER_LOG)
        printed = 0
        if show_output:
            print(f"RunId: {self.id}\nWeb View: {self.get_portal_url()}\n\nStreaming {run_files.DRIVER_LOG}\n"
                  + "=" * (10 + len(run_files.DRIVER_LOG)) + "\n", flush=True)
        while True:
            status = self._status_now()
            if show_output:
                printed = _print_new(log, printed)
            if status in TERMINAL_STATUSES:
                break
            self._wait_a_little()
        details = self.get_details()
        if show_output:
            print(f"\nExecution Summary\n=================\nRunId: {self.id}\nWeb View: {self.get_portal_url()}\n"
                  f"Status: {details['status']}", flush=True)
            if details.get("error"):
                print(f"Error: {first_error_line({'error': details['error'].get('message'), 'traceback': details['error'].get('traceback')})}")
        if raise_on_error:
            self._raise_if_failed(details)
        return details

    def _status_now(self) -> str:
        return self.get_status()

    def _wait_a_little(self) -> None:
        time.sleep(0.2)

    def cancel(self) -> None:
        """Ask the experiment's driver to stop this run (it ends Canceled)."""
        self._store.add_event(self.id, "cancel_requested", {"reason": "canceled by the user"})
        self._store.flush()

    def get_environment(self) -> Any:
        from .environment import Environment

        return Environment("local")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        raise UserErrorException(
            f"run {self.id} was read from the workspace; values are logged from inside the trial "
            "(Run.get_context().log(...))")

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._experiment.name},\nId: {self.id},\nType: {self.type},\nStatus: {self.get_status()})"


def _print_new(path: str, printed: int) -> int:
    """Print what ``path`` gained since ``printed`` bytes; returns the new count."""
    try:
        with open(path, "rb") as fh:
            fh.seek(printed)
            chunk = fh.read()
    except OSError:
        return printed
    if chunk:
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()
    return printed + len(chunk)


# ---------------------------------------------------------------------------------------------
# the trial's own run
# ---------------------------------------------------------------------------------------------
class _ParentHandle:
    """``run.parent`` inside a trial: the experiment run's id and tags."""

    def __init__(self, run_id: str, run_dir: str | None) -> None:
        self.id = run_id
        self._run_dir = run_dir

    def tag(self, key: str, value: Any = None) -> None:
        if self._run_dir is not None:
            run_files.update_run_json(self._run_dir, "tags", {str(key): None if value is None else str(value)})

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        announce("parent-log", f"run.parent.log({name!r}, ...): values of the experiment run are not kept "
                               "here; log them on the trial's own run")

    def __repr__(self) -> str:
        return f"Run(Id: {self.id}, Type: hyperdrive)"


class _LiveRun:
    """The trial's own run with the SDK's logging and file calls (``Run.get_context()``).

    Anything else is the engine's run (``id``, ``get_metrics``, ``parameters``, ...).
    """

    def __init__(self, inner: _BaseRun) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def _run_dir(self) -> str | None:
        return getattr(self._inner, "run_directory", None)

    @property
    def _offline(self) -> bool:
        return self._run_dir is None

    # -- metrics ---------------------------------------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log one value of metric ``name``."""
        self._inner.log(name, value, description)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        self._inner.log_list(name, value, description)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """One row of the table metric ``name``: ``run.log_row("loss", epoch=1, value=0.3)``."""
        self._inner.log(name, encode_row(kwargs))

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        """A table metric: ``run.log_table("curve", {"x": [1, 2], "y": [0.5, 0.7]})``."""
        self._inner.log(name, encode_table(value))

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        self._inner.log(name, json.dumps(value, default=str))

    log_accuracy_table = log_residuals = log_predictions = log_confusion_matrix

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        """Keep an image file or a matplotlib figure with the run (``<name>_<n>.png``).

        Never fails the trial: a problem is printed as one line and the trial goes on.
        """
        try:
            if self._offline:
                return
            if (path is None) == (plot is None):
                raise ValueError("give exactly one of path= (an image file) and plot= (a matplotlib figure)")
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "image"
            number = 1 + sum(1 for n in run_files.list_file_names(self._run_dir) if n.rsplit(".", 1)[0].startswith(f"{stem}_")
                             and n.rsplit(".", 1)[0][len(stem) + 1:].isdigit())  # type: ignore[arg-type]
            suffix = ".png" if plot is not None else (os.path.splitext(str(path))[1] or ".png")
            file_name = f"{stem}_{number}{suffix}"
            if plot is not None:
                buffer = io.BytesIO()
                plot.savefig(buffer, format="png")
                buffer.seek(0)
                run_files.save_file(self._run_dir, file_name, buffer)  # type: ignore[arg-type]
            else:
                run_files.save_file(self._run_dir, file_name, path)  # type: ignore[arg-type]
            self._inner.log(name, f"aml://artifactId/ExperimentRun/dcid.{self.id}/{file_name}")
        except Exception as exc:  # an image must never cost the trial its result
            print(f"hdnotebook: log_image({name!r}) was not kept: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    # -- tags and files --------------------------------------------------------------------------
    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        if not self._offline:
            run_files.update_run_json(self._run_dir, "tags", {str(k): None if v is None else str(v) for k, v in tags.items()})  # type: ignore[arg-type]

    def get_tags(self) -> dict[str, Any]:
        return {} if self._offline else run_files.read_run_json(self._run_dir).get("tags", {})  # type: ignore[arg-type]

    @property
    def tags(self) -> dict[str, Any]:
        return self.get_tags()

    def add_properties(self, properties: dict[str, Any]) -> None:
        if not self._offline:
            run_files.update_run_json(self._run_dir, "properties", {k: str(v) for k, v in properties.items()})  # type: ignore[arg-type]

    @property
    def properties(self) -> dict[str, Any]:
        return {} if self._offline else run_files.read_run_json(self._run_dir).get("properties", {})  # type: ignore[arg-type]

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        """Keep a file with the run under ``name`` (``outputs/...`` files are kept anyway)."""
        if not self._offline:
            run_files.save_file(self._run_dir, name, path_or_stream)  # type: ignore[arg-type]

    def upload_files(self, names: list[str], paths: list[str], return_artifacts: bool = False,
                     timeout_seconds: int | None = None, datastore_name: str | None = None) -> None:
        _upload_files(self.upload_file, names, paths)

    def upload_folder(self, name: str, path: str, datastore_name: str | None = None) -> None:
        _upload_folder(self.upload_file, name, path)

    def get_file_names(self) -> list[str]:
        return [] if self._offline else run_files.list_file_names(self._run_dir)  # type: ignore[arg-type]

    def download_file(self, name: str, output_file_path: str | None = None, _validate_checksum: bool = False) -> None:
        if self._offline:
            raise UserErrorException("an offline run has no files")
        shutil.copyfile(run_files.resolve_file(self._run_dir, name), output_file_path or os.path.basename(name))  # type: ignore[arg-type]

    # -- relations -------------------------------------------------------------------------------
    @property
    def parent(self) -> Any:
        """The experiment run of this trial (``None`` offline)."""
        if self._offline or "_" not in self.id:
            return None
        parent_id = self.id.rsplit("_", 1)[0]
        return _ParentHandle(parent_id, os.path.join(os.path.dirname(self._run_dir), parent_id))  # type: ignore[arg-type]

    @property
    def input_datasets(self) -> dict[str, Any]:
        return {}

    @property
    def experiment(self) -> Any:
        return None

    def get_status(self) -> str:
        return RunStatus.RUNNING

    def complete(self, _set_status: bool = True) -> None:
        """The trial completes when its script or function returns."""

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        raise RuntimeError(f"run.fail(): {error_details or 'the trial marked itself failed'}")

    def flush(self, timeout_seconds: int = 300) -> None:
        flush = getattr(self._inner, "flush", None)
        if flush is not None:
            flush()

    def __repr__(self) -> str:
        return f"Run(Id: {self.id}, Status: Running)"


def get_run(experiment: Any, run_id: str, rehydrate: bool = True, clean_up: bool = True) -> Any:
    """The run ``run_id`` of ``experiment`` (a ``HyperDriveRun`` for an experiment run)."""
    from .experiment import _open_run

    return _open_run(experiment, run_id, rehydrate=rehydrate)


def get_run_by_id(workspace: Any, run_id: str) -> Any:
    """The run ``run_id`` of any experiment of ``workspace``."""
    from .experiment import Experiment

    store = workspace.store
    store.flush()
    row = store.run(run_id)
    if row is None:
        raise UserErrorException(f"workspace {workspace.name!r} has no run {run_id!r}")
    return get_run(Experiment(workspace, row.experiment), run_id)
