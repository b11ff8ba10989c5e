"""``Experiment`` (``azureml.core.experiment``): submit a HyperDrive config or a single script run.

>>> experiment = Experiment(ws, name="train_iris")          # doctest: +SKIP
>>> run = experiment.submit(src)                            # a ScriptRunConfig: one run   # doctest: +SKIP
>>> hyperdrive_run = experiment.submit(hyperdrive_config)   # a HyperDriveRun              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ... import workspace as _local_workspace
from ...config import HyperDriveConfig as _EngineConfig
from ...estimator import ScriptRunConfig as _EngineScriptRunConfig
from ...policy.none import NoTerminationPolicy
from ...sampling.base import ParameterSampling, TrialRecord
from ..exceptions import UserErrorException

__all__ = ["Experiment"]

#: the sampling name that marks an experiment run holding one script run
SINGLE_RUN = "single"
#: the metric name a single run is "optimised" for (nothing is compared)
SINGLE_RUN_METRIC = "_single_run"


class _SingleRunSampling(ParameterSampling):
    """One configuration with no parameters: a script run submitted on its own."""

    name = SINGLE_RUN

    def __init__(self) -> None:  # no space to validate
        self.parameter_space = {}
        self.seed = 0
        self.properties = {}

    @property
    def max_configurations(self) -> int:
        return 1

    def suggest(self, trials: Sequence[TrialRecord], goal: str = "maximize", count: int = 1) -> list[dict[str, Any]]:
        return [{}] if not trials else []


class Experiment(_local_workspace.Experiment):
    """A named series of runs in a :class:`~hdnotebook.azureml.core.Workspace`.

    Args:
        workspace: the workspace.
        name: the experiment's name.
    """

    def __init__(self, workspace: Any, name: str, _skip_name_validation: bool = False, _id: str | None = None,
                 _archived_time: Any = None, _create_in_cloud: bool = True, _experiment_dto: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(workspace, name)

    @property
    def id(self) -> str:
        return self.name

    @property
    def tags(self) -> dict[str, str]:
        return {}

    def get_portal_url(self) -> str:
        return f"file://{self.workspace.path}"

    def submit(self, config: Any, tags: dict[str, str] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Start ``config`` in the background and return its run at once.

        Args:
            config: a ``HyperDriveConfig`` (returns a
                :class:`~hdnotebook.azureml.train.hyperdrive.HyperDriveRun`), or a
                ``ScriptRunConfig`` / estimator (returns a
                :class:`~hdnotebook.azureml.core.script_run.ScriptRun`: the script once, in its
                own working directory).
            tags: tags of the run.
            kwargs: ``backend``, ``n_jobs``, ``channel_host`` as for ``hdnotebook.Experiment.submit``.
        """
        from ..train.hyperdrive.run import HyperDriveRun
        from .script_run import ScriptRun

        options = {k: kwargs[k] for k in ("backend", "n_jobs", "channel_host") if k in kwargs}
        if isinstance(config, _EngineConfig):
            live = super().submit(config, tags=tags, **options)
            return HyperDriveRun(self, live.id, hyperdrive_config=config, _controller=live._controller)
        if isinstance(config, _EngineScriptRunConfig):
            single = _EngineConfig(
                estimator=config, hyperparameter_sampling=_SingleRunSampling(), policy=NoTerminationPolicy(),
                primary_metric_name=SINGLE_RUN_METRIC, primary_metric_goal="maximize", max_total_runs=1,
                max_concurrent_runs=1)
            live = super().submit(single, tags=tags, **options)
            return ScriptRun(self, f"{live.id}_0", experiment_run=live)
        raise UserErrorException(
            "Experiment.submit(config): config must be a HyperDriveConfig, a ScriptRunConfig or an estimator "
            f"(SKLearn, PyTorch, TensorFlow, Estimator); got {config!r}")

    def start_logging(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "Experiment.start_logging (interactive runs) is not part of hdnotebook.azureml; log from a "
            "training script or function submitted with a ScriptRunConfig or HyperDriveConfig")

    def get_runs(self, type: str | None = None, tags: Any = None, properties: Any = None,  # type: ignore[override]
                 include_children: bool = False) -> Iterator[Any]:
        """The experiment's runs, newest first: ``HyperDriveRun``s and single ``ScriptRun``s."""
        store = self.store
        store.flush()
        for row in reversed(store.parent_runs(self.name)):
            run = _from_parent_row(self, row)
            if type is None or getattr(run, "type", None) == type:
                yield run
            if include_children and row.details.get("sampling") != SINGLE_RUN:
                yield from run.get_children()

    @staticmethod
    def list(workspace: Any, experiment_name: str | None = None, view_type: str = "ActiveOnly",
             tags: Any = None) -> list[Experiment]:
        names = workspace.store.experiments()
        return [Experiment(workspace, n) for n in names if experiment_name is None or n == experiment_name]

    def archive(self) -> None:
        """Nothing to archive locally."""

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name},\nWorkspace: {getattr(self.workspace, 'name', self.workspace.path)})"


def _from_parent_row(experiment: Experiment, row: Any) -> Any:
    from ..train.hyperdrive.run import HyperDriveRun
    from .script_run import ScriptRun

    if row.details.get("sampling") == SINGLE_RUN:
        return ScriptRun(experiment, f"{row.id}_0", experiment_run=HyperDriveRun(experiment, row.id))
    return HyperDriveRun(experiment, row.id)


def _open_run(experiment: Experiment, run_id: str, rehydrate: bool = True) -> Any:
    from .run import Run

    store = experiment.store
    store.flush()
    row = store.run(run_id)
    if row is None:
        raise UserErrorException(f"experiment {experiment.name!r} has no run {run_id!r}")
    if row.parent_id is None and rehydrate:
        return _from_parent_row(experiment, row)
    return Run(experiment, run_id)
