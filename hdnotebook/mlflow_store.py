"""mlflow inside a trial: metrics logged with ``mlflow.log_metric(s)`` reach the trial's run.

This is an mlflow **tracking-store plugin**, registered through mlflow's own extension point: the
entry point ``hdnotebook = hdnotebook.mlflow_store:TrialTrackingStore`` in the group
``mlflow.tracking_store`` (see ``pyproject.toml``), for tracking URIs of the scheme
``hdnotebook://``. Script trials run with ``MLFLOW_TRACKING_URI=hdnotebook://`` (as Azure ML sets
its own URI in a run), so a training script that uses mlflow without choosing a tracking URI
logs into its trial; one that sets its own URI keeps it. Nothing of mlflow is patched.

What it does with each call:

- ``log_metric`` / ``log_metrics`` (``log_batch``): every value is logged on the trial's run
  (``Run.get_context().log``), so the primary metric drives the policy and the best run;
- ``log_param(s)``: kept as the mlflow run's params; ``set_tag(s)``: also the trial's tags;
- artifacts (``log_artifact``, ``log_model``) go under the run's files, ``mlflow/...``;
- experiments and runs live for the trial process (one experiment, ``"0"``).

>>> import mlflow                       # doctest: +SKIP  (in a training script)
>>> mlflow.log_metric("accuracy", 0.93)  # doctest: +SKIP  -> run.get_metrics()["accuracy"]
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from mlflow.entities import Experiment, LifecycleStage, Metric, Param, Run, RunData, RunInfo, RunStatus, RunTag
from mlflow.store.tracking.abstract_store import AbstractStore

from . import run_files
from .run import MLFLOW_TRACKING_URI as TRACKING_URI, Run as _TrialRun

__all__ = ["TrialTrackingStore", "SCHEME", "TRACKING_URI"]

SCHEME = TRACKING_URI.split(":", 1)[0]
EXPERIMENT_ID = "0"


class TrialTrackingStore(AbstractStore):
    """mlflow's tracking store for code running in an hdnotebook trial (see the module doc)."""

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        self._store_uri = store_uri
        self._artifact_uri = artifact_uri
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, Any]] = {}
        self._experiments = {EXPERIMENT_ID: "Default"}

    # -- the trial ---------------------------------------------------------------------------------
    @staticmethod
    def _trial() -> Any:
        return _TrialRun.get_context()

    def _artifact_location(self) -> str:
        run_dir = getattr(self._trial(), "run_directory", None)
        if run_dir is None:
            return os.path.abspath("mlruns")
        return os.path.join(run_files.files_directory(run_dir), "mlflow")

    # -- experiments -------------------------------------------------------------------------------
    def _experiment(self, experiment_id: str) -> Experiment:
        return Experiment(experiment_id, self._experiments[experiment_id], self._artifact_location(),
                          LifecycleStage.ACTIVE)

    def search_experiments(self, view_type: Any = None, max_results: Any = None, filter_string: Any = None,
                           order_by: Any = None, page_token: Any = None, **kwargs: Any) -> Any:
        from mlflow.store.entities.paged_list import PagedList

        return PagedList([self._experiment(i) for i in self._experiments], None)

    def create_experiment(self, name: str, artifact_location: Any = None, tags: Any = None) -> str:
        with self._lock:
            for experiment_id, known in self._experiments.items():
                if known == name:
                    return experiment_id
            experiment_id = str(len(self._experiments))
            self._experiments[experiment_id] = name
            return experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        if experiment_id not in self._experiments:
            self._experiments[experiment_id] = f"experiment-{experiment_id}"
        return self._experiment(experiment_id)

    def get_experiment_by_name(self, experiment_name: str) -> Experiment:
        return self._experiment(self.create_experiment(experiment_name))

    # -- runs --------------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, user_id: str, start_time: int, tags: Any, run_name: str | None) -> Run:
        trial = self._trial()
        run_id = uuid.uuid4().hex
        with self._lock:
            self._runs[run_id] = {
                "info": RunInfo(run_id, experiment_id or EXPERIMENT_ID, user_id or "hdnotebook",
                                RunStatus.to_string(RunStatus.RUNNING), start_time, None, LifecycleStage.ACTIVE,
                                artifact_uri=os.path.join(self._artifact_location(), run_id),
                                run_name=run_name or trial.id),
                "metrics": {}, "params": {}, "tags": {},
            }
        self.log_batch(run_id, [], [], list(tags or []))
        return self.get_run(run_id)

    def _record(self, run_id: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        record = self._runs.get(run_id)
        if record is None:
            raise MlflowException(f"run {run_id!r} was not started in this trial")
        return record

    def get_run(self, run_id: str) -> Run:
        with self._lock:
            record = self._record(run_id)
            data = RunData(metrics=list(record["metrics"].values()), params=list(record["params"].values()),
                           tags=list(record["tags"].values()))
            return Run(record["info"], data)

    def update_run_info(self, run_id: str, run_status: Any, end_time: int | None, run_name: str | None) -> RunInfo:
        with self._lock:
            record = self._record(run_id)
            old = record["info"]
            status = run_status if isinstance(run_status, str) else RunStatus.to_string(run_status)
            record["info"] = RunInfo(old.run_id, old.experiment_id, old.user_id, status, old.start_time, end_time,
                                     old.lifecycle_stage, artifact_uri=old.artifact_uri,
                                     run_name=run_name or old.run_name)
            return record["info"]

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def search_runs(self, *args: Any, **kwargs: Any) -> Any:
        from mlflow.store.entities.paged_list import PagedList

        return PagedList([self.get_run(run_id) for run_id in list(self._runs)], None)

    def _search_runs(self, experiment_ids: Any, filter_string: Any, run_view_type: Any, max_results: Any,
                     order_by: Any, page_token: Any) -> tuple[list[Run], None]:
        return [self.get_run(run_id) for run_id in list(self._runs)], None

    def get_metric_history(self, run_id: str, metric_key: str, max_results: Any = None,
                           page_token: Any = None) -> Any:
        from mlflow.store.entities.paged_list import PagedList

        with self._lock:
            history = list(self._record(run_id).get("history", {}).get(metric_key, []))
        return PagedList(history, None)

    # -- logging -----------------------------------------------------------------------------------
    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        trial = self._trial()
        with self._lock:
            record = self._record(run_id)
            for metric in metrics:
                record["metrics"][metric.key] = metric
                record.setdefault("history", {}).setdefault(metric.key, []).append(metric)
            for param in params:
                record["params"][param.key] = param
            for tag in tags:
                record["tags"][tag.key] = tag
        for metric in metrics:  # outside the lock: a policy may stop the trial here (TrialStopped)
            trial.log(metric.key, metric.value)
        user_tags = {t.key: t.value for t in tags if not t.key.startswith("mlflow.")}
        run_dir = getattr(trial, "run_directory", None)
        if user_tags and run_dir is not None:
            run_files.update_run_json(run_dir, "tags", user_tags)

    def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
        """Datasets and models used as inputs are not recorded here."""

    def log_outputs(self, run_id: str, models: Any) -> None:
        """Logged models are kept as artifacts (under the run's files, ``mlflow/``)."""

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """The model's files are the record (``log_model`` writes them as artifacts)."""
