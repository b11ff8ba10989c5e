"""Workspace and Experiment: where experiments live, and how one is submitted (SPEC §6, §9).

>>> ws = Workspace("/tmp/hd-doc")            # doctest: +SKIP
>>> experiment = Experiment(ws, "digits")     # doctest: +SKIP
>>> run = experiment.submit(config)           # doctest: +SKIP  (returns at once)
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from .config import HyperDriveConfig
from .run import HyperDriveRun, RunStatus, TERMINAL_STATUSES, new_parent_id
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


def _process_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _driver_identity() -> dict[str, Any]:
    return {"driver_pid": os.getpid(), "driver_host": socket.gethostname(), "driver_start": _process_start_time(os.getpid())}


def _driver_alive(details: dict[str, Any]) -> bool:
    if details.get("driver_host") != socket.gethostname():
        return True  # another machine: we cannot tell, assume it is alive
    pid = details.get("driver_pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = details.get("driver_start")
    return start is None or _process_start_time(pid) == start


class Experiment:
    """A named series of experiment runs in a workspace.

    Opening an experiment in a new process (a restarted kernel) sees every run and metric stored
    before; runs left Running by a kernel that died are marked Failed with ``interrupted`` in
    their details (:meth:`HyperDriveRun.resume` can pick them up again).
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        if not isinstance(workspace, Workspace):
            raise TypeError(f"Experiment(workspace, name): workspace must be a Workspace, got {workspace!r}")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise ValueError(f"Experiment name must be a non-empty string of at most 255 characters, got {name!r}")
        self.workspace = workspace
        self.name = name
        self._mark_interrupted()

    @property
    def store(self) -> Store:
        return self.workspace.store

    def submit(
        self,
        config: HyperDriveConfig,
        *,
        backend: str | None = None,
        n_jobs: int | None = None,
        channel_host: str = "127.0.0.1",
        tags: dict[str, str] | None = None,
    ) -> HyperDriveRun:
        """Start the experiment in the background and return its :class:`HyperDriveRun` at once.

        Args:
            config: what to run and how (:class:`HyperDriveConfig`).
            backend: joblib backend name; default: the one active here (``parallel_config``),
                ``loky`` unless set.
            n_jobs: joblib worker count for that backend.
            channel_host: address the metrics channel listens on; keep ``127.0.0.1`` unless
                trials run on other machines (Dask), then an address those machines reach.
            tags: free-form labels kept in the run's details.
        """
        from .engine import ExperimentDriver

        if not isinstance(config, HyperDriveConfig):
            raise TypeError(f"submit(config): config must be a HyperDriveConfig, got {config!r}")
        store = self.store
        store.add_experiment(self.name)
        parent_id = new_parent_id()
        store.insert_run(
            id=parent_id, experiment=self.name, parent_id=None, number=None, status=RunStatus.RUNNING,
            created=time.time(), started=time.time(), params={}, details=describe_config(config, tags),
        )
        store.update_run(parent_id, details=_driver_identity())
        _store_config_blob(store, parent_id, config)
        driver = ExperimentDriver(
            store, self.name, parent_id, config, backend=backend, n_jobs=n_jobs, channel_host=channel_host
        )
        with _LIVE_LOCK:
            _LIVE[parent_id] = driver
        driver.start()
        return HyperDriveRun(store, parent_id, controller=driver)

    def get_runs(self) -> list[HyperDriveRun]:
        """Every experiment run, newest first (as HyperDrive lists them)."""
        store = self.store
        store.flush()
        runs = store.parent_runs(self.name)
        with _LIVE_LOCK:
            return [HyperDriveRun(store, r.id, controller=_LIVE.get(r.id)) for r in reversed(runs)]

    def _mark_interrupted(self) -> None:
        store = self.store
        store.flush()
        for parent in store.parent_runs(self.name):
            if parent.status in TERMINAL_STATUSES or parent.id in _LIVE:
                continue
            if _driver_alive(parent.details):
                continue
            reason = "interrupted: the kernel that ran this experiment exited"
            for child in store.child_runs(parent.id):
                if child.status not in TERMINAL_STATUSES:
                    store.update_run(child.id, status=RunStatus.FAILED, ended=time.time(),
                                     details={"error": reason, "interrupted": True})
            store.update_run(parent.id, status=RunStatus.FAILED, ended=time.time(),
                             details={"error": reason, "interrupted": True})
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
        "policy": repr(config.policy),
        "estimator": getattr(estimator, "__qualname__", None) or repr(estimator),
        "gpus_per_trial": config.gpus_per_trial,
        "tags": dict(tags or {}),
    }


def _store_config_blob(store: Store, parent_id: str, config: HyperDriveConfig) -> None:
    """Keep a pickled copy of the config so the experiment can be resumed in a new process."""
    import cloudpickle

    try:
        store.put_blob(parent_id, "config", cloudpickle.dumps(config))
    except Exception as exc:  # an unpicklable estimator: the experiment runs, resume will not
        store.update_run(parent_id, details={"resumable": False, "resume_error": repr(exc)})
