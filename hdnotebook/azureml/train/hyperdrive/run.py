"""``HyperDriveRun`` (``azureml.train.hyperdrive.run``) with the SDK's names and defaults.

>>> hyperdrive_run = experiment.submit(hyperdrive_config)          # doctest: +SKIP
>>> hyperdrive_run.wait_for_completion(show_output=True)            # doctest: +SKIP
>>> best_run = hyperdrive_run.get_best_run_by_primary_metric()      # doctest: +SKIP
>>> best_run.get_details()["runDefinition"]["arguments"]            # doctest: +SKIP
['--kernel', 'rbf', '--penalty', '1.5']
"""

from __future__ import annotations

import json
import math
from typing import Any

from ...._vocab import RunStatus, best_value, metric_key
from ....experiment_run import HyperDriveRun as _EngineHyperDriveRun
from ...core.run import Run, _AzureRunAPI
from ..._metric_values import first_error_line
from ...exceptions import ActivityFailedException
from .runconfig import PrimaryMetricGoal

__all__ = ["HyperDriveRun", "PrimaryMetricGoal"]


class HyperDriveRun(_AzureRunAPI, _EngineHyperDriveRun):
    """A HyperDrive experiment run: its child runs, their best, and waiting for it.

    Args:
        experiment: the :class:`~hdnotebook.azureml.core.Experiment`.
        run_id: the experiment run's id (``"HD_..."``).
        hyperdrive_config: the config it was submitted with (read back from the workspace when
            not given).
    """

    RUN_TYPE = "hyperdrive"

    def __init__(self, experiment: Any, run_id: str, hyperdrive_config: Any = None, **kwargs: Any) -> None:
        if not isinstance(run_id, str):
            raise TypeError(f"HyperDriveRun(experiment, run_id): run_id must be a str, got {run_id!r}")
        from ....workspace import _LIVE, _LIVE_LOCK, resume_run

        controller = kwargs.get("_controller")
        if controller is None:
            with _LIVE_LOCK:
                controller = _LIVE.get(run_id)
        super().__init__(experiment.store, run_id, controller=controller, resumer=resume_run)
        self._experiment = experiment
        self._hyperdrive_config = hyperdrive_config

    @property
    def type(self) -> str:
        return self.RUN_TYPE

    @property
    def _runtype(self) -> str:
        return self.RUN_TYPE

    @property
    def parent(self) -> None:
        return None

    @property
    def hyperdrive_config(self) -> Any:
        """The :class:`HyperDriveConfig` of the run (``None`` if it could not be read back)."""
        if self._hyperdrive_config is None:
            from ....workspace import _load_config

            try:
                self._hyperdrive_config = _load_config(self._store, self._row(), None)
            except (ValueError, TypeError):
                return None
        return self._hyperdrive_config

    # -- children --------------------------------------------------------------------------------
    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,  # type: ignore[override]
                     type: str | None = None, status: str | None = None, _rehydrate_runs: bool = True) -> list[Run]:
        """The trials, oldest first (``status=`` keeps those in that status)."""
        self._store.flush()
        return [Run(self._experiment, row.id, _row=row) for row in self._store.child_runs(self.id)
                if status is None or row.status == status]

    def get_metrics(self) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """``child run id -> its metrics``."""
        return {child.id: child.get_metrics() for child in self.get_children()}

    def get_hyperparameters(self) -> dict[str, str]:
        """``child run id -> its hyperparameters as a JSON string`` (as the SDK returns them)."""
        self._store.flush()
        return {row.id: json.dumps(row.params) for row in self._store.child_runs(self.id)}

    def _best_values(self) -> list[tuple[Run, float, str]]:
        goal, values = self.goal, self.primary_values()
        out = []
        for child in self.get_children():
            value = best_value(values.get(child.id, []), goal)
            if value is not None and not math.isnan(value):
                out.append((child, value, child._row.status if child._row else child.get_status()))
        return out

    def get_children_sorted_by_primary_metric(self, top: int = 0, reverse: bool = False,
                                              discard_no_metric: bool = False) -> list[dict[str, Any]]:
        """The children best first: dicts of ``run_id``, ``hyperparameters``, ``best_primary_metric``,
        ``status``; children without the metric follow unless ``discard_no_metric``."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 0:
            raise ValueError(f"get_children_sorted_by_primary_metric: top must be 0 or a positive int, got {top!r}")
        hyperparameters = self.get_hyperparameters()
        with_metric = {child.id: value for child, value, _ in self._best_values()}
        rows = []
        without = []
        self._store.flush()
        for row in self._store.child_runs(self.id):
            entry = {"run_id": row.id, "hyperparameters": hyperparameters.get(row.id),
                     "best_primary_metric": with_metric.get(row.id), "status": row.status}
            (rows if row.id in with_metric else without).append(entry)
        maximize = self.goal == "maximize"
        rows.sort(key=lambda e: e["best_primary_metric"], reverse=maximize != reverse)
        if not discard_no_metric:
            rows += without
        return rows[:top] if top else rows

    def get_best_run_by_primary_metric(self, include_failed: bool = True, include_canceled: bool = True,  # type: ignore[override]
                                       include_resume_from_runs: bool = True) -> Run | None:
        """The child with the best primary metric (the best value it logged, by the goal).

        As in the SDK, Failed and Canceled children count unless excluded, and with
        ``include_resume_from_runs`` so do the children of the runs this one resumed from.
        """
        candidates = [(child, value) for child, value, status in self._best_values()
                      if (include_failed or status != RunStatus.FAILED)
                      and (include_canceled or status != RunStatus.CANCELED)]
        if include_resume_from_runs:
            for parent in self._resume_from_runs():
                best = parent.get_best_run_by_primary_metric(include_failed, include_canceled, False)
                if best is not None:
                    value = best_value(parent.primary_values().get(best.id, []), self.goal)
                    if value is not None:
                        candidates.append((best, value))
        if not candidates:
            return None
        return max(candidates, key=lambda cv: metric_key(cv[1], self.goal))[0]

    def _resume_from_runs(self) -> list[HyperDriveRun]:
        from ...core.experiment import Experiment

        out = []
        for run_id in self._row().details.get("warm_start", []) or []:
            row = self._store.run(run_id) if isinstance(run_id, str) else None
            if row is not None:
                out.append(HyperDriveRun(Experiment(self._experiment.workspace, row.experiment), run_id))
        return out

    # -- control ---------------------------------------------------------------------------------
    def cancel(self) -> bool:  # type: ignore[override]
        """Stop the experiment; running trials end Canceled. Returns ``True``."""
        super().cancel()
        return True

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,  # type: ignore[override]
                            raise_on_error: bool = True, poll_seconds: float = 0.5) -> dict[str, Any]:
        """Wait until the experiment has ended; returns :meth:`get_details`.

        ``show_output`` prints a progress line per change, each failed trial with its first error
        line as it fails, and the experiment's warning (e.g. the primary metric never logged)
        once. ``raise_on_error`` (the SDK's default) raises
        :class:`~hdnotebook.azureml.exceptions.ActivityFailedException` when the experiment Failed
        (every trial failed, or the driver did).
        """
        reported: set[str] = set()
        warned = [False]

        def print_news() -> None:
            warned[0] = self._print_news(reported, warned[0])

        if show_output:
            print(f"RunId: {self.id}\nWeb View: {self.get_portal_url()}\n", flush=True)
        if not self._wait_until_ended(show_output, poll_seconds, print_news):
            return self.get_details()
        details = self.get_details()
        if show_output:
            self._print_news(reported, warned[0])
            print(f"\nExecution Summary\n=================\nRunId: {self.id}\nWeb View: {self.get_portal_url()}\n",
                  flush=True)
            print(self.summary_table(), flush=True)
        if raise_on_error and details["status"] == RunStatus.FAILED:
            error = details["properties"].get("error") or "the experiment run failed"
            failures = [f"{c.id}: {first_error_line(c._row.details)}" for c in self.get_children()
                        if c._row is not None and c._row.status == RunStatus.FAILED][:5]
            raise ActivityFailedException(json.dumps({"error": {"message": error, "failed_runs": failures}}, indent=4))
        return details

    def _print_news(self, reported: set[str], warned: bool) -> bool:
        """Print trials that failed since the last call, and the experiment's warning once."""
        self._store.flush()
        for row in self._store.child_runs(self.id):
            if row.status == RunStatus.FAILED and row.id not in reported:
                reported.add(row.id)
                print(f"Run {row.id} Failed: {first_error_line(row.details)}", flush=True)
        warning = self._row().details.get("warning")
        if warning and not warned:
            print(f"Warning: {warning}", flush=True)
            return True
        return warned

    def get_diagnostics(self) -> None:
        raise NotImplementedError("get_diagnostics is not supported for a HyperDriveRun (as in the SDK)")

    def fail(self) -> None:
        raise NotImplementedError("fail is not supported for a HyperDriveRun (as in the SDK)")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        raise TypeError(f"run {self.id} is an experiment run; values are logged by its trials")

    def __repr__(self) -> str:
        return (f"Run(Experiment: {self._experiment.name},\nId: {self.id},\nType: {self.RUN_TYPE},\n"
                f"Status: {self.get_status()})")


Run.register(HyperDriveRun)  # isinstance(hyperdrive_run, Run), as in the SDK
