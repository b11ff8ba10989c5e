"""The trial side of runs: ``Run.get_context()``, ``run.log(...)``, :class:`TrialStopped`.

Inside a trial, ``Run.get_context()`` is that trial's run; ``run.log(name, value)`` buffers the
value and a background thread ships it to the driver within ~50 ms. Logging the primary metric
while an early-termination policy is active is synchronous: the driver applies the policy and the
reply says whether to stop, so the run stops exactly at the interval the policy judged (it raises
:class:`TrialStopped`, which the engine catches). Outside an experiment, ``Run.get_context()`` is an
offline run that keeps values in memory, so training code works unchanged in a plain cell:

>>> run = Run.get_context()          # not in a trial here: an offline run
>>> run.log("accuracy", 0.95)
>>> print(run.get_status())
Running

The parent side (``HyperDriveRun``, and child runs read back from the store) is
:mod:`hdnotebook.experiment_run`; ``hdnotebook.run.HyperDriveRun`` still resolves to it.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

from ._vocab import TERMINAL_STATUSES, RunStatus
from .channel import ChannelClient

__all__ = ["Run", "TrialStopped", "DriverLost", "RunStatus", "TERMINAL_STATUSES", "HyperDriveRun"]


#: Environment variables that hand a script trial its channel.
ENV_ADDRESS = "HDNOTEBOOK_CHANNEL"
ENV_KEY = "HDNOTEBOOK_KEY"
ENV_RUN_ID = "HDNOTEBOOK_RUN_ID"
ENV_PRIMARY = "HDNOTEBOOK_PRIMARY_METRIC"
ENV_SYNC = "HDNOTEBOOK_SYNC_PRIMARY"
#: the run's folder (see :mod:`hdnotebook.run_files`), for a script trial
ENV_RUN_DIR = "HDNOTEBOOK_RUN_DIR"
#: the tracking URI a trial's mlflow logs to (the plugin in :mod:`hdnotebook.mlflow_store`)
MLFLOW_TRACKING_URI = "hdnotebook://"


class TrialStopped(BaseException):
    """Raised inside a trial by ``run.log`` once the run has been told to stop.

    It derives from ``BaseException`` so ``except Exception`` in training code does not swallow it.
    """


class DriverLost(TrialStopped):
    """Raised inside a trial by ``run.log`` once the driver (the notebook kernel) cannot be reached."""


#: the stop reason of a trial whose driver is gone (one wording, wherever it is noticed)
LOST_DRIVER = "lost the driver (the notebook kernel exited)"


def _encode_value(value: Any) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return float(value), None
    if isinstance(value, Real):
        return float(value), None
    try:
        import numpy as np

        if isinstance(value, np.generic) and np.issubdtype(value.dtype, np.number):
            return float(value), None
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return None, str(value)


def _collect(rows: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``name -> value``, or a list of values when logged more than once (SPEC §9)."""
    out: dict[str, list[Any]] = {}
    for name, value in rows:
        out.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


class Run(ABC):
    """A run of an experiment: a trial (child run) or, as ``HyperDriveRun``, the parent.

    Training code gets its run with :meth:`get_context` and logs with :meth:`log`.
    """

    def __init__(self, run_id: str) -> None:
        self.id = run_id

    # -- trial side ------------------------------------------------------------------------------
    @staticmethod
    def get_context(allow_offline: bool = True) -> Run:
        """The run of the trial this code runs in, or an offline run outside an experiment."""
        current = _CURRENT.get() or _PROCESS_RUN.get("run")
        if current is not None:
            return current
        if os.environ.get(ENV_RUN_ID) and os.environ.get(ENV_ADDRESS):
            run = _TrialRun.from_environment()
            _PROCESS_RUN["run"] = run
            atexit.register(run.close)  # a script's last values reach the driver as it exits
            return run
        if not allow_offline:
            raise RuntimeError("Run.get_context(): not inside an hdnotebook trial")
        offline = _OFFLINE.get("run")
        if offline is None:
            offline = _OFFLINE["run"] = _OfflineRun()
        return offline

    @staticmethod
    def get_submitted_run() -> Run:
        """HyperDrive's older name for :meth:`get_context`."""
        return Run.get_context()

    def log(self, name: str, value: Any, description: str = "") -> None:
        """Log one value of metric ``name`` (numbers; anything else is kept as text)."""
        raise TypeError(f"run {self.id} is not a live trial; values can only be logged from inside a trial")

    def log_list(self, name: str, values: Sequence[Any], description: str = "") -> None:
        """Log a list of values of metric ``name``, one step each."""
        for value in values:
            self.log(name, value, description)

    # -- read side -------------------------------------------------------------------------------
    @abstractmethod
    def get_status(self) -> str:
        """``Queued``, ``Running``, ``Completed``, ``Failed`` or ``Canceled``."""

    @abstractmethod
    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """``name -> value`` (or list of values when logged more than once)."""

    @abstractmethod
    def get_details(self) -> dict[str, Any]:
        """A dict with ``runId``, ``status``, ``parameters`` and, for a child, ``runDefinition``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, status={self.get_status()!r})"


# ---------------------------------------------------------------------------------------------
# trial side
# ---------------------------------------------------------------------------------------------
_CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar("hdnotebook_run", default=None)
_PROCESS_RUN: dict[str, Run] = {}
_OFFLINE: dict[str, Run] = {}


class _OfflineRun(Run):
    """A run outside any experiment: logs stay in memory, so code runs unchanged in a cell."""

    def __init__(self) -> None:
        super().__init__(f"OfflineRun_{uuid.uuid4().hex[:8]}")
        self._rows: list[tuple[str, Any]] = []

    def log(self, name: str, value: Any, description: str = "") -> None:
        self._rows.append((name, value))

    def get_status(self) -> str:
        return RunStatus.RUNNING

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        metrics = _collect(self._rows)
        return {name: metrics[name]} if name is not None and name in metrics else metrics if name is None else {}

    def get_details(self) -> dict[str, Any]:
        return {"runId": self.id, "status": self.get_status(), "parameters": {}}


class _TrialRun(Run):
    """The run of a live trial: buffers values and ships them to the driver."""

    FLUSH_SECONDS = 0.05
    BATCH = 5000

    def __init__(
        self,
        run_id: str,
        client: ChannelClient,
        primary_metric: str,
        sync_primary: bool,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(run_id)
        self._client = client
        self._primary = primary_metric
        self._sync_primary = sync_primary
        self.parameters = dict(parameters or {})
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer: list[tuple[str, int, float | None, str | None, float]] = []
        self._steps: dict[str, int] = {}
        self._rows: list[tuple[str, Any]] = []
        self._stop: str | None = None
        self._driver_lost = False
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self.primary_logged = False
        #: the run's folder (its outputs and uploaded files), when it has one
        self.run_directory: str | None = os.environ.get(ENV_RUN_DIR) or None

    @classmethod
    def from_environment(cls) -> _TrialRun:
        host, port = os.environ[ENV_ADDRESS].rsplit(":", 1)
        client = ChannelClient((host, int(port)), bytes.fromhex(os.environ[ENV_KEY]))
        return cls(
            os.environ[ENV_RUN_ID],
            client,
            os.environ.get(ENV_PRIMARY, ""),
            os.environ.get(ENV_SYNC) == "1",
        )

    def log(self, name: str, value: Any, description: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"run.log(): name must be a non-empty string, got {name!r}")
        self._raise_if_stopped()
        number, text = _encode_value(value)
        with self._lock:
            step = self._steps.get(name, 0)
            self._steps[name] = step + 1
            self._buffer.append((name, step, number, text, time.time()))
            self._rows.append((name, value))
        if name == self._primary:
            self.primary_logged = True
            if self._sync_primary:
                self.flush()
                self._raise_if_stopped()
                return
        if self._flusher is None:
            self._start_flusher()
        elif len(self._buffer) >= self.BATCH:
            self._wake.set()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_loop, name="hdnotebook-log-flusher", daemon=True)
                self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except ConnectionError as exc:
                self._driver_lost = True
                self._stop = f"{LOST_DRIVER}: {exc}"
                return

    def _raise_if_stopped(self) -> None:
        if self._stop is not None:
            raise (DriverLost if self._driver_lost else TrialStopped)(self._stop)

    def flush(self) -> None:
        """Send every buffered value now (blocking); records a stop request from the reply.

        Flushes are serialised, so when this returns every value logged before the call has
        reached the driver, including a batch another thread had already taken.
        """
        with self._flush_lock:
            while True:
                with self._lock:
                    rows, self._buffer = self._buffer[: self.BATCH], self._buffer[self.BATCH :]
                if not rows:
                    return
                try:
                    reply = self._client.request(("log", self.id, rows, True))
                except ConnectionError:
                    with self._lock:  # keep them for the next try
                        self._buffer[:0] = rows
                    raise
                if reply and reply[0] == "ok" and reply[1]:
                    self._stop = reply[1]

    def close(self) -> None:
        """Final flush: every value logged reaches the driver before the trial reports its end."""
        self._closed = True
        self._wake.set()
        for attempt in range(5):
            try:
                self.flush()
                return
            except ConnectionError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    @property
    def stop_reason(self) -> str | None:
        return self._stop

    def get_status(self) -> str:
        return RunStatus.RUNNING

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        with self._lock:
            metrics = _collect(self._rows)
        if name is not None:
            return {name: metrics[name]} if name in metrics else {}
        return metrics

    def get_details(self) -> dict[str, Any]:
        return {"runId": self.id, "status": RunStatus.RUNNING, "parameters": dict(self.parameters)}


def enter_trial(run: Run, process_wide: bool) -> contextvars.Token[Run | None]:
    """Make ``run`` what ``Run.get_context()`` returns (engine use)."""
    if process_wide:
        _PROCESS_RUN["run"] = run
    return _CURRENT.set(run)


def leave_trial(token: contextvars.Token[Run | None], process_wide: bool) -> None:
    _CURRENT.reset(token)
    if process_wide:
        _PROCESS_RUN.pop("run", None)


def __getattr__(name: str) -> Any:
    """``hdnotebook.run.HyperDriveRun`` and ``best_value``: where they were before the split."""
    if name == "HyperDriveRun":
        from .experiment_run import HyperDriveRun

        return HyperDriveRun
    if name == "best_value":
        from ._vocab import best_value

        return best_value
    raise AttributeError(f"module 'hdnotebook.run' has no attribute {name!r}")
