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
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from ._vocab import TERMINAL_STATUSES, RunStatus
from .channel import ChannelClient
from .store import ValueKind, check_metric_name, encode_value, metric_rows_json

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


class TrialStoreError(RuntimeError):
    """Raised inside a trial when the driver could not commit its values (the message says why)."""


class TrialStopped(BaseException):
    """Raised inside a trial by ``run.log`` once the run has been told to stop.

    It derives from ``BaseException`` so ``except Exception`` in training code does not swallow it.
    """


class DriverLost(TrialStopped):
    """Raised inside a trial by ``run.log`` once the driver (the notebook kernel) cannot be reached."""


#: the stop reason of a trial whose driver is gone (one wording, wherever it is noticed)
LOST_DRIVER = "lost the driver (the notebook kernel exited)"


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
        """Log one value of metric ``name``.

        Numbers (numpy scalars and 0-d arrays too), bool, ``None`` and str are stored and read back
        as they were logged; a list goes through :meth:`log_list`; anything else (a complex number,
        an object) raises a ``TypeError`` that says what to log instead.
        """
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
    #: a value unsent for this long makes ``log`` send a batch itself and wait for its commit
    #: (back-pressure that bounds how far the store is behind: the commit lag)
    MAX_UNSENT_SECONDS = 0.1
    #: values waiting to be sent past which ``log`` itself sends them (and waits for the commit)
    MAX_BACKLOG = 100_000

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
        #: rows waiting to be sent, ``(name, step, kind, value, text, time)``; appended by ``log``
        #: and taken by ``flush`` without a lock (deque appends and pops are atomic)
        self._buffer: deque[tuple[str, int, int, float | None, str | None, float]] = deque()
        #: every value logged, per name (a value's step is its index here)
        self._values: dict[str, list[Any]] = {}
        self._stop: str | None = None
        self._driver_lost = False
        self._failure: str | None = None
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self.primary_logged = False
        #: the run's folder (its outputs and uploaded files), when it has one
        self.run_directory: str | None = os.environ.get(ENV_RUN_DIR) or None

    @classmethod
    def from_environment(cls) -> _TrialRun:
        host, port = os.environ[ENV_ADDRESS].rsplit(":", 1)
        run_id = os.environ[ENV_RUN_ID]  # the key in ENV_KEY is this run's own (channel.trial_key)
        client = ChannelClient((host, int(port)), bytes.fromhex(os.environ[ENV_KEY]), run_id=run_id)
        return cls(
            run_id,
            client,
            os.environ.get(ENV_PRIMARY, ""),
            os.environ.get(ENV_SYNC) == "1",
        )

    def log(self, name: str, value: Any, description: str = "") -> None:
        if self._stop is not None or self._failure is not None:
            self._raise_if_stopped()
            raise TrialStoreError(self._failure)
        if type(value) is float and value == value:  # the common case, without a call
            kind, number, text = ValueKind.NUMBER, value, None
        else:
            kind, number, text = encode_value(value, name)
            if kind == ValueKind.NAN:
                number = None  # as it is stored (SQLite keeps no NaN); the kind says NaN
        buffer = self._buffer
        with self._lock:  # the step and the row's place in the buffer together: rows go in step order
            values = self._values.get(name)
            if values is None:
                check_metric_name(name)
                values = self._values[name] = []
            buffer.append((name, len(values), kind, number, text, _now()))
            values.append(value)
        backlog = len(buffer)
        if name == self._primary:
            self.primary_logged = True
            if self._sync_primary:
                self.flush()
                self._raise_if_stopped()
                return
        if self._flusher is None:
            self._start_flusher()
        elif backlog >= self.BATCH and not backlog & 1023:  # now and then, not on every call
            if backlog >= self.MAX_BACKLOG or _now() - _oldest(buffer) >= self.MAX_UNSENT_SECONDS:
                self._send_batch()  # back-pressure: the driver (or its store) is behind
            else:
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
            except TrialStoreError as exc:  # raised by the trial's next run.log
                self._failure = str(exc)
                return

    def _raise_if_stopped(self) -> None:
        if self._stop is not None:
            raise (DriverLost if self._driver_lost else TrialStopped)(self._stop)

    def flush(self) -> None:
        """Send every buffered value now and wait until the store has committed them.

        Flushes are serialised, so when this returns every value logged before the call is
        committed, including a batch another thread had already taken; a stop request in the reply
        is recorded. Raises :class:`TrialStoreError` when the driver could not commit them (the
        store's error says why and what to do).
        """
        with self._flush_lock:
            while self._send(_take(self._buffer, self.BATCH)):
                pass

    def _send_batch(self) -> None:
        """Send the oldest buffered batch now and wait for its commit (what ``log`` does when
        the driver is behind, instead of waiting for the whole buffer)."""
        with self._flush_lock:
            self._send(_take(self._buffer, self.BATCH))

    def _send(self, rows: list[Any]) -> bool:
        """Send ``rows`` (taken from the buffer, flush lock held); ``False`` when there were none."""
        if not rows:
            return False
        # as JSON text, which SQLite inserts by itself (msgpack rows when JSON cannot carry a
        # value: an infinity)
        payload = metric_rows_json(rows)
        try:
            reply = self._client.request(("log", self.id, rows if payload is None else payload, True))
        except ConnectionError:
            self._buffer.extendleft(reversed(rows))  # kept for the next try
            raise
        if reply and reply[0] == "error":
            self._failure = f"the values of run {self.id} could not be stored: {reply[1]}"
            raise TrialStoreError(self._failure)
        if reply and reply[0] == "ok" and reply[1]:
            self._stop = reply[1]
        return True

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
            metrics = {k: v[0] if len(v) == 1 else list(v) for k, v in self._values.items() if v}
        if name is not None:
            return {name: metrics[name]} if name in metrics else {}
        return metrics

    def get_details(self) -> dict[str, Any]:
        return {"runId": self.id, "status": RunStatus.RUNNING, "parameters": dict(self.parameters)}


_now = time.time


def _oldest(buffer: deque[tuple[Any, ...]]) -> float:
    """When the oldest row in ``buffer`` was logged (now if the flusher just took them all)."""
    try:
        return buffer[0][5]
    except IndexError:
        return _now()


def _take(buffer: deque[Any], limit: int) -> list[Any]:
    """Pop up to ``limit`` items from the left of ``buffer`` (safe while other threads append)."""
    rows = []
    pop = buffer.popleft
    try:
        for _ in range(limit):
            rows.append(pop())
    except IndexError:
        pass
    return rows


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
