"""``ScriptRun``: a script submitted on its own (``experiment.submit(ScriptRunConfig(...))``).

It runs through the same engine as a HyperDrive trial (its own working directory, its output in
``azureml-logs/70_driver_log.txt``), inside an experiment run that holds only it.
"""

from __future__ import annotations

from typing import Any

from ..._vocab import RunStatus
from .run import Run

__all__ = ["ScriptRun"]


class ScriptRun(Run):
    """One script run. ``wait_for_completion``, ``get_metrics``, ``cancel``, ``RunDetails`` work on it."""

    def __init__(self, experiment: Any, run_id: str, experiment_run: Any = None, **kwargs: Any) -> None:
        super().__init__(experiment, run_id, **kwargs)
        self._experiment_run = experiment_run

    @property
    def experiment_run(self) -> Any:
        """The experiment run that holds this run (what ``RunDetails`` shows)."""
        return self._experiment_run

    def _exists(self) -> bool:
        self._store.flush()
        return self._store.run(self.id) is not None

    def get_status(self) -> str:
        if self._exists():
            return super().get_status()
        parent = self._experiment_run.get_status() if self._experiment_run is not None else RunStatus.QUEUED
        return RunStatus.QUEUED if parent == RunStatus.RUNNING else parent

    def _wait_a_little(self) -> None:
        controller = getattr(self._experiment_run, "_controller", None)
        if controller is not None:
            controller.wait_done(0.2)
        else:
            super()._wait_a_little()

    def get_details(self) -> dict[str, Any]:
        if self._exists():
            return super().get_details()
        details = self._experiment_run.get_details() if self._experiment_run is not None else {}
        return {"runId": self.id, "status": self.get_status(), "target": "local",
                "runDefinition": {"arguments": [], "Arguments": []}, "properties": {},
                **({"error": {"message": details["properties"]["error"]}}
                   if details.get("properties", {}).get("error") else {})}

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        return super().get_metrics(name, recursive, run_type, populate) if self._exists() else {}

    def cancel(self) -> None:
        """Stop the run (it ends Canceled)."""
        if self._experiment_run is not None:
            self._experiment_run.cancel()
        else:
            super().cancel()

    @property
    def parent(self) -> None:
        return None

    def get_children(self, *args: Any, **kwargs: Any) -> Any:
        return iter(())

    @property
    def store(self) -> Any:
        return self._store
