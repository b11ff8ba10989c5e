"""Workspace and Experiment: where experiments live, and how one is submitted (SPEC §6, §9).

>>> ws = Workspace("/tmp/hd-doc")            # doctest: +SKIP
>>> experiment = Experiment(ws, "digits")     # doctest: +SKIP
>>> run = experiment.submit(config)           # doctest: +SKIP  (returns at once)

After a kernel restart or crash, ``Experiment(ws, "digits").resume()`` (or
``experiment.get_runs()[0].resume()``) continues the newest unfinished experiment run to its
budget; see :mod:`hdnotebook.engine.resume` for what is kept and what is run again.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from .config import HyperDriveConfig, _warm_start_list
from ._vocab import TERMINAL_STATUSES, RunStatus, driver_alive, driver_identity
from .experiment_run import HyperDriveRun, new_parent_id
from .steering import applied_steering
from .space import param_axes
from .store import Store, open_store

__all__ = ["Workspace", "Experiment", "STORE_FILE"]

STORE_FILE = "hdnotebook.sqlite"

#: drivers started by this process, by parent run id (so reopening in the same kernel stays live)
_LIVE: dict[str, Any] = {}
_LIVE_LOCK = threading.Lock()


class Workspace:
    """A folder holding every experiment's store (one SQLite file).

    Args:
        path: the folder; ``None`` means ``./.hdnotebook`` under the current directory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = os.path.abspath(os.fspath(path) if path is not None else os.path.join(os.getcwd(), ".hdnotebook"))
        os.makedirs(self.path, exist_ok=True)

    @property
    def store_path(self) -> str:
        return os.path.join(self.path, STORE_FILE)

    @property
    def store(self) -> Store:
        return open_store(self.store_path)

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Every experiment in this workspace by name (HyperDrive's ``ws.experiments``)."""
        return {name: Experiment(self, name) for name in self.store.experiments()}

    def __repr__(self) -> str:
        return f"Workspace({self.path!r})"


class Experiment:
    """A named series of experiment runs in a workspace.

    Opening an experiment in a new process (a restarted kernel) sees every run and metric stored
    before. Creating it writes nothing; :meth:`get_runs` and :meth:`resume` first mark runs whose
    driver is gone (a kernel that died) Failed with ``interrupted`` in their details
    (:meth:`HyperDriveRun.resume` can pick them up again).
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        if not isinstance(workspace, Workspace):
            raise TypeError(f"Experiment(workspace, name): workspace must be a Workspace, got {workspace!r}")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ValueError(f"Experiment name must be a non-empty string of at most 255 characters, got {name!r}")
        self.workspace = workspace
        self.name = name

    @property
    def store(self) -> Store:
        return self.workspace.store

    def submit(
        self,
        config: HyperDriveConfig,
        *,
        backend: str | None = None,
        n_jobs: int | None = None,
        channel_host: str | None = None,
        tags: dict[str, str] | None = None,
        warm_start: Any = None,
    ) -> HyperDriveRun:
        """Start the experiment in the background and return its :class:`HyperDriveRun` at once.

        Args:
            config: what to run and how (:class:`HyperDriveConfig`).
            backend: joblib backend name; default: the one active here (``parallel_config``),
                ``loky`` unless set.
            n_jobs: joblib worker count for that backend.
            channel_host: address the metrics channel listens on; ``None``: ``127.0.0.1``, or on a
                Dask cluster whose scheduler or workers are not all on this machine's loopback,
                this machine's address on the interface that reaches the scheduler. Give an
                address explicitly when the workers reach this machine another way.
            tags: free-form labels kept in the run's details.
            warm_start: earlier experiment runs over the same space whose finished trials the
                sampler is given first (added to ``config.warm_start``).

        On a Dask cluster (``with joblib.parallel_config(backend="dask"):`` around this call, or
        ``backend="dask"`` with a ``distributed.Client`` created before), trials run on the workers;
        see :mod:`hdnotebook.engine.dask`.
        """
        from .engine import ExperimentDriver
        from .engine.resume import warm_start_records

        if not isinstance(config, HyperDriveConfig):
            raise TypeError(f"submit(config): config must be a HyperDriveConfig, got {config!r}")
        store = self.store
        sources = [*getattr(config, "warm_start", []), *_warm_start_list(warm_start)]
        warm = warm_start_records(
            store, sources, list(config.hyperparameter_sampling.parameter_space), config.primary_metric_name,
            config.goal,
        ) if sources else []
        store.add_experiment(self.name)
        parent_id = new_parent_id()
        now = time.time()
        details = describe_config(config, tags)
        if sources:
            details["warm_start"] = [getattr(s, "id", None) or "records" for s in sources]
            details["warm_start_trials"] = len(warm)
        details.update(driver_identity(), driver_token=_new_token(), session_started=now, heartbeat=now)
        store.insert_run(
            id=parent_id, experiment=self.name, parent_id=None, number=None, status=RunStatus.RUNNING,
            created=now, started=now, params={}, details=details,
        )
        _store_config_blob(store, parent_id, config, warm)
        try:
            driver = ExperimentDriver(
                store, self.name, parent_id, config, backend=backend, n_jobs=n_jobs, channel_host=channel_host,
                warm_start=warm,
            )
        except BaseException as exc:  # e.g. GPUs asked for and none found: the run must not stay Running
            store.update_run(parent_id, status=RunStatus.FAILED, ended=time.time(),
                             details={"error": f"{type(exc).__name__}: {exc}"})
            store.flush()
            raise
        with _LIVE_LOCK:
            _LIVE[parent_id] = driver
        driver.start()
        return HyperDriveRun(store, parent_id, controller=driver, resumer=resume_run)

    def resume(
        self,
        run_id: str | None = None,
        *,
        config: HyperDriveConfig | None = None,
        backend: str | None = None,
        n_jobs: int | None = None,
        channel_host: str | None = None,
    ) -> HyperDriveRun:
        """Continue an unfinished experiment run (a kernel restart or crash, a cancel) to its budget.

        The run goes on under its own id: trials that finished count toward ``max_total_runs`` and
        are what the sampler and the policy start from; trials that were running are run again
        with the same parameters as new runs (see :mod:`hdnotebook.engine.resume`).

        Args:
            run_id: the experiment run; ``None``: the newest one that did not complete.
            config: the :class:`HyperDriveConfig` to go on with; ``None``: the one stored at submit
                (needed when that could not be pickled, e.g. an estimator that is not picklable).
            backend, n_jobs, channel_host: as for :meth:`submit`.
        """
        store = self.store
        self._mark_interrupted()
        if run_id is None:
            open_runs = [r for r in store.parent_runs(self.name) if r.status != RunStatus.COMPLETED]
            if not open_runs:
                raise ValueError(f"experiment {self.name!r} has no unfinished experiment run to resume")
            run_id = open_runs[-1].id
        return resume_run(store, run_id, config=config, backend=backend, n_jobs=n_jobs, channel_host=channel_host)

    def get_runs(self) -> list[HyperDriveRun]:
        """Every experiment run, newest first (as HyperDrive lists them).

        Runs whose driver is gone (its kernel died) are first marked Failed, ``interrupted``.
        """
        store = self.store
        self._mark_interrupted()
        runs = store.parent_runs(self.name)
        with _LIVE_LOCK:
            return [HyperDriveRun(store, r.id, controller=_LIVE.get(r.id), resumer=resume_run) for r in reversed(runs)]

    def _mark_interrupted(self) -> None:
        store = self.store
        store.flush()
        for parent in store.parent_runs(self.name):
            if parent.status in TERMINAL_STATUSES or parent.id in _LIVE:
                continue
            if driver_alive(parent.details):
                continue
            _mark_parent_interrupted(store, parent.id)
        store.flush()

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.path!r})"


def describe_config(config: HyperDriveConfig, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The parts of a config every view needs, as JSON-friendly values."""
    sampling = config.hyperparameter_sampling
    estimator = config.estimator
    return {
        "primary_metric_name": config.primary_metric_name,
        "goal": config.goal,
        "max_total_runs": config.max_total_runs,
        "max_concurrent_runs": config.max_concurrent_runs,
        "max_duration_minutes": config.max_duration_minutes,
        "sampling": sampling.name,
        "seed": sampling.seed,
        "space": {name: repr(expr) for name, expr in sampling.parameter_space.items()},
        "axes": param_axes(sampling.parameter_space),  # how every view draws each parameter
        "policy": repr(config.policy),
        "estimator": getattr(estimator, "__qualname__", None) or repr(estimator),
        "gpus_per_trial": config.gpus_per_trial,
        "tags": dict(tags or {}),
    }


_INTERRUPTED = "interrupted: the kernel that ran this experiment exited"


def _new_token() -> str:
    """Names one driver's hold on a run (compare-and-set on resume: see :func:`resume_run`)."""
    return uuid.uuid4().hex


def _mark_children_interrupted(store: Store, parent_id: str) -> None:
    for child in store.child_runs(parent_id):
        if child.status not in TERMINAL_STATUSES:
            store.update_run(child.id, status=RunStatus.FAILED, ended=time.time(),
                             details={"error": _INTERRUPTED, "interrupted": True})


def _mark_parent_interrupted(store: Store, parent_id: str) -> None:
    _mark_children_interrupted(store, parent_id)
    store.update_run(parent_id, status=RunStatus.FAILED, ended=time.time(),
                     details={"error": _INTERRUPTED, "interrupted": True})


def _store_config_blob(store: Store, parent_id: str, config: HyperDriveConfig, warm: list[Any] | None = None) -> None:
    """Keep a pickled copy of the config so the experiment can be resumed in a new process.

    Warm-start runs are kept apart, as the sampler records they gave (a run object holds its
    store, which does not pickle).
    """
    import copy
    import pickle

    import cloudpickle

    if warm:
        store.put_blob(parent_id, "warm_start", pickle.dumps(warm))
    blob = copy.copy(config)
    blob.warm_start = []
    try:
        store.put_blob(parent_id, "config", cloudpickle.dumps(blob))
    except Exception as exc:  # an unpicklable estimator: the experiment runs, resume will not
        store.update_run(parent_id, details={"resumable": False, "resume_error": repr(exc)})


def _load_config(store: Store, parent: Any, config: HyperDriveConfig | None) -> HyperDriveConfig:
    """The config to resume with: the one given (checked against the run), else the stored blob."""
    if config is not None:
        if not isinstance(config, HyperDriveConfig):
            raise TypeError(f"resume(config=...): config must be a HyperDriveConfig, got {config!r}")
        stored_names = sorted(parent.details.get("space", {}))
        names = sorted(config.hyperparameter_sampling.parameter_space)
        if config.primary_metric_name != parent.details.get("primary_metric_name") or names != stored_names:
            raise ValueError(
                f"resume(config=...): run {parent.id} optimised {parent.details.get('primary_metric_name')!r} "
                f"over {stored_names}; the config given optimises {config.primary_metric_name!r} over {names}"
            )
        return config
    import cloudpickle

    blob = store.blob(parent.id, "config")
    why = parent.details.get("resume_error", "no config was stored")
    if blob is not None:
        try:
            loaded = cloudpickle.loads(blob)
        except Exception as exc:
            why = f"the stored config cannot be unpickled here: {exc!r}"
        else:
            if not hasattr(loaded, "warm_start"):
                loaded.warm_start = []
            return loaded
    raise ValueError(
        f"experiment run {parent.id} cannot be resumed from its stored config ({why}); "
        "pass the HyperDriveConfig it was submitted with: resume(config=config)"
    )


def resume_run(
    store: Store,
    run_id: str,
    *,
    config: HyperDriveConfig | None = None,
    backend: str | None = None,
    n_jobs: int | None = None,
    channel_host: str | None = None,
) -> HyperDriveRun:
    """Continue the experiment run ``run_id`` in this process (see :meth:`Experiment.resume`)."""
    import pickle

    from .engine import ExperimentDriver
    from .engine.resume import load_state

    store.flush()
    parent = store.run(run_id)
    if parent is None or parent.parent_id is not None:
        raise ValueError(f"{run_id!r} is not an experiment run in {store.path}")
    with _LIVE_LOCK:
        live = _LIVE.get(run_id)
    if live is not None and not live.done:
        raise ValueError(f"experiment run {run_id} is still running in this kernel")
    if parent.status not in TERMINAL_STATUSES and live is None and driver_alive(parent.details):
        raise ValueError(
            f"experiment run {run_id} is still running in process {parent.details.get('driver_pid')} "
            f"on {parent.details.get('driver_host')}; cancel it there (or wait for it) before resuming"
        )
    config = _load_config(store, parent, config)
    state = load_state(store, parent)
    # limits changed while it ran (set_limits) hold on: the driver takes them over from the store
    total = applied_steering(store, run_id).limits.get("max_total_runs", config.max_total_runs)
    if len(state.finished) >= total:
        raise ValueError(
            f"experiment run {run_id} has nothing left to run: {len(state.finished)} trials finished of "
            f"max_total_runs={total}"
        )
    warm_blob = store.blob(run_id, "warm_start")
    warm = pickle.loads(warm_blob) if warm_blob else []
    # claim the run: of two kernels resuming it at once, the one whose compare-and-set lands first
    # runs it; the other sees the token changed and stops here
    now = time.time()
    claimed = store.claim_run(
        run_id, "driver_token", parent.details.get("driver_token"),
        {**driver_identity(), "driver_token": _new_token(), "heartbeat": now, "session_started": now},
        status=RunStatus.RUNNING,
    )
    if not claimed:
        holder = store.run(run_id)
        who = holder.details if holder is not None else {}
        raise ValueError(
            f"experiment run {run_id} was resumed by another process just now (process "
            f"{who.get('driver_pid')} on {who.get('driver_host')}); only one kernel can run it"
        )
    _mark_children_interrupted(store, run_id)
    try:
        driver = ExperimentDriver(
            store, parent.experiment, run_id, config, backend=backend, n_jobs=n_jobs, channel_host=channel_host,
            resume=state, warm_start=warm,
        )
    except BaseException as exc:  # the run must not stay Running
        store.update_run(run_id, status=RunStatus.FAILED, ended=time.time(),
                         details={"error": f"{type(exc).__name__}: {exc}"})
        store.flush()
        raise
    resumed = int(parent.details.get("resumed", 0)) + 1
    store.update_run(
        run_id, status=RunStatus.RUNNING, ended=None,
        details={"used_seconds": state.used_seconds, "resumed": resumed, "interrupted": False, "error": None,
                 "stop": None, "traceback": None, "error_source": None},
    )
    store.add_event(run_id, "resumed", {
        "finished": len(state.finished), "rerun": [p.run_id for p in state.rerun], "time": now,
    })
    with _LIVE_LOCK:
        _LIVE[run_id] = driver
    driver.start()
    return HyperDriveRun(store, run_id, controller=driver, resumer=resume_run)
