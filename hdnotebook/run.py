"""Runs: the trial side (``Run.get_context().log(...)``) and the parent side (``HyperDriveRun``).

Inside a trial, ``Run.get_context()`` is that trial's run; ``run.log(name, value)`` buffers the
value and a background thread ships it to the driver within ~50 ms. Logging the primary metric
while an early-termination policy is active is synchronous: the driver applies the policy and the
reply says whether to stop, so the run stops exactly at the interval the policy judged (it raises
:class:`TrialStopped`, which the engine catches). Outside an experiment, ``Run.get_context()`` is an
offline run that keeps values in memory, so training code works unchanged in a plain cell.

A run read back from the store (``hyperdrive_run.get_children()``, a reopened experiment) has the
same ``id``, ``get_status()``, ``get_metrics()`` and ``get_details()``.
"""

from __future__ import annotations

import atexit
import contextvars
from abc import ABC, abstractmethod
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from typing import Any

from .channel import ChannelClient
from .policy.base import metric_key
from .store import MetricRow, RunRow, Store

__all__ = ["Run", "HyperDriveRun", "TrialStopped", "RunStatus", "TERMINAL_STATUSES"]


class RunStatus:
    """The statuses of SPEC §9."""

    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})

#: Environment variables that hand a script trial its channel.
ENV_ADDRESS = "HDNOTEBOOK_CHANNEL"
ENV_KEY = "HDNOTEBOOK_KEY"
ENV_RUN_ID = "HDNOTEBOOK_RUN_ID"
ENV_PRIMARY = "HDNOTEBOOK_PRIMARY_METRIC"
ENV_SYNC = "HDNOTEBOOK_SYNC_PRIMARY"


class TrialStopped(BaseException):
    """Raised inside a trial by ``run.log`` once the run has been told to stop.

    It derives from ``BaseException`` so ``except Exception`` in training code does not swallow it.
    """


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
    """A run of an experiment: a trial (child run) or, as :class:`HyperDriveRun`, the parent.

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
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None
        self.primary_logged = False

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
        if self._stop is not None:
            raise TrialStopped(self._stop)
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
                if self._stop is not None:
                    raise TrialStopped(self._stop)
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
                self._stop = f"lost the driver: {exc}"
                return

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


# ---------------------------------------------------------------------------------------------
# read side: runs in the store
# ---------------------------------------------------------------------------------------------
def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


class _StoredRun(Run):
    """A child run as the store has it."""

    def __init__(self, store: Store, run_id: str, row: RunRow | None = None) -> None:
        super().__init__(run_id)
        self._store = store
        self._row = row

    def _fresh(self) -> RunRow:
        self._store.flush()
        row = self._store.run(self.id)
        if row is None:
            raise LookupError(f"run {self.id!r} is not in the store {self._store.path}")
        self._row = row
        return row

    @property
    def number(self) -> int | None:
        return (self._row or self._fresh()).number

    def get_status(self) -> str:
        return self._fresh().status

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        self._store.flush()
        rows = self._store.metrics([self.id], name)
        return _collect((m.name, m.logged) for m in rows)

    def get_details(self) -> dict[str, Any]:
        row = self._fresh()
        d = row.details
        details: dict[str, Any] = {
            "runId": row.id,
            "status": row.status,
            "startTimeUtc": _iso(row.started),
            "endTimeUtc": _iso(row.ended),
            "parameters": dict(row.params),
            "runDefinition": {"Arguments": list(d.get("arguments", []))},
            "properties": {k: v for k, v in d.items() if k not in {"arguments", "traceback", "error"}},
        }
        if d.get("error"):
            details["error"] = {"message": d["error"], "traceback": d.get("traceback", "")}
        if d.get("stop"):
            details["stopReason"] = d["stop"].get("reason") if isinstance(d["stop"], dict) else d["stop"]
        return details

    def get_parameters(self) -> dict[str, Any]:
        """The sampled hyperparameters by name."""
        return dict((self._row or self._fresh()).params)


def best_value(values: Iterable[float], goal: str) -> float | None:
    """The best of ``values`` under ``goal`` (NaN counts as worst); ``None`` for none.

    This is the value of a run that counts everywhere: best run, widget, samplers, replay.
    """
    best: float | None = None
    for v in values:
        if v is None:
            continue
        if best is None or metric_key(v, goal) > metric_key(best, goal):
            best = float(v)
    return best


class HyperDriveRun(Run):
    """The parent run of an experiment: its trials, their best, and control (SPEC §6, §9).

    Returned by ``experiment.submit(config)`` (live) or found again by ``experiment.get_runs()``.
    """

    def __init__(self, store: Store, run_id: str, controller: Any = None) -> None:
        super().__init__(run_id)
        self._store = store
        self._controller = controller

    # -- identity --------------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self._store

    def _row(self) -> RunRow:
        self._store.flush()
        row = self._store.run(self.id)
        if row is None:
            raise LookupError(f"run {self.id!r} is not in the store {self._store.path}")
        return row

    @property
    def experiment_name(self) -> str:
        return self._row().experiment

    @property
    def primary_metric_name(self) -> str:
        return self._row().details["primary_metric_name"]

    @property
    def goal(self) -> str:
        return self._row().details["goal"]

    def get_status(self) -> str:
        return self._row().status

    def get_details(self) -> dict[str, Any]:
        row = self._row()
        return {
            "runId": row.id,
            "status": row.status,
            "startTimeUtc": _iso(row.started),
            "endTimeUtc": _iso(row.ended),
            "properties": dict(row.details),
        }

    # -- children --------------------------------------------------------------------------------
    def get_children(self) -> list[_StoredRun]:
        """Every trial run, in creation order."""
        self._store.flush()
        return [_StoredRun(self._store, r.id, r) for r in self._store.child_runs(self.id)]

    def get_metrics(self, name: str | None = None) -> dict[str, dict[str, Any]]:
        """``child run id -> its metrics``, as HyperDrive returns for a parent run."""
        self._store.flush()
        children = self._store.child_runs(self.id)
        rows = self._store.metrics([c.id for c in children], name)
        per_run: dict[str, list[tuple[str, Any]]] = {c.id: [] for c in children}
        for m in rows:
            per_run[m.run_id].append((m.name, m.logged))
        return {rid: _collect(vals) for rid, vals in per_run.items()}

    def primary_values(self) -> dict[str, list[float]]:
        """The primary-metric values of every child, in logging order."""
        self._store.flush()
        children = self._store.child_runs(self.id)
        out: dict[str, list[float]] = {c.id: [] for c in children}
        for m in self._store.metrics([c.id for c in children], self.primary_metric_name):
            if m.value is not None:
                out[m.run_id].append(m.value)
        return out

    def get_best_run_by_primary_metric(self) -> _StoredRun | None:
        """The child with the best primary metric, or ``None`` when no child logged it.

        A run's value is the best one it logged, by the goal (NaN counts as worst); runs that
        Completed or were Canceled (stopped early) count, Failed runs do not.
        """
        goal = self.goal
        values = self.primary_values()
        best: tuple[float, _StoredRun] | None = None
        for child in self.get_children():
            if child.get_status() == RunStatus.FAILED:
                continue
            value = best_value(values.get(child.id, []), goal)
            if value is None or math.isnan(value):
                continue
            if best is None or metric_key(value, goal) > metric_key(best[0], goal):
                best = (value, child)
        return best[1] if best else None

    def metric_events(self) -> list[MetricRow]:
        """Every primary-metric row of the children in the order the engine received them."""
        self._store.flush()
        children = self._store.child_runs(self.id)
        return self._store.metrics([c.id for c in children], self.primary_metric_name)

    # -- control ---------------------------------------------------------------------------------
    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = False, poll_seconds: float = 0.5) -> dict[str, Any]:
        """Block until the experiment ends; returns :meth:`get_details`.

        With ``show_output=True`` it prints a text progress line per change. Interrupting the
        waiting cell (Ctrl-C, the stop button) stops the waiting, not the experiment.
        """
        last = ""
        try:
            while True:
                status = self.get_status()
                if show_output:
                    line = self.progress_line()
                    if line != last:
                        print(line, flush=True)
                        last = line
                if status in TERMINAL_STATUSES:
                    break
                if self._controller is not None:
                    self._controller.wait_done(poll_seconds)
                else:
                    time.sleep(poll_seconds)
        except KeyboardInterrupt:
            print(
                f"Stopped waiting; experiment run {self.id} goes on in the background "
                "(hyperdrive_run.cancel() stops it).",
                file=sys.stderr,
            )
            return self.get_details()
        if show_output:
            print(self.summary_table(), flush=True)
        details = self.get_details()
        if raise_on_error and details["status"] == RunStatus.FAILED:
            raise RuntimeError(f"experiment run {self.id} failed: {details['properties'].get('error')}")
        return details

    def cancel(self) -> None:
        """Stop the experiment: no new trials; running ones are stopped and end Canceled."""
        if self._controller is not None:
            self._controller.cancel("canceled by the user")
        else:
            self._store.add_event(self.id, "cancel_requested", {"reason": "canceled by the user"})
            self._store.flush()

    def cancel_child(self, run_id: str) -> None:
        """Stop one trial (it ends Canceled)."""
        if self._controller is not None:
            self._controller.cancel_run(run_id, "canceled by the user")
        else:
            self._store.add_event(run_id, "cancel_requested", {"reason": "canceled by the user"})
            self._store.flush()

    def resume(self, config: Any = None, **submit_options: Any) -> HyperDriveRun:
        """Continue this experiment run after a kernel restart, a crash or a cancel (same run id).

        Finished trials count toward the budget and are what the sampler and the policy start
        from; trials that were running are run again as new runs with the same parameters.
        ``config``: the ``HyperDriveConfig`` to go on with (default: the one stored at submit);
        ``submit_options``: ``backend``, ``n_jobs``, ``channel_host`` as for ``submit``. Returns the
        live run; this object follows it too.
        """
        from .workspace import resume_run  # the engine sits above runs: imported on use

        live = resume_run(self._store, self.id, config=config, **submit_options)
        self._controller = live._controller
        return live

    def replay(self, policy: Any) -> Any:
        """What-if: which runs ``policy`` would have stopped in this experiment, and what it saves.

        Replays the primary-metric values in the order the engine received them (the order a live
        policy sees), so a replay of the policy that ran agrees with what happened.
        """
        from .policy.replay import replay_policy

        events = [(m.run_id, m.value) for m in self.metric_events() if m.value is not None]
        return replay_policy(policy, events, self.goal)

    # -- text views ------------------------------------------------------------------------------
    def progress_line(self) -> str:
        children = self._store.child_runs(self.id)
        row = self._row()
        counts: dict[str, int] = {}
        for c in children:
            counts[c.status] = counts.get(c.status, 0) + 1
        total = row.details.get("max_total_runs", "?")
        best = self.get_best_run_by_primary_metric()
        best_text = ""
        if best is not None:
            value = best_value(self.primary_values()[best.id], self.goal)
            best_text = f" | best {self.primary_metric_name}={value:.4g} ({best.id})"
        parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        return f"[{row.status}] {len(children)}/{total} runs: {parts}{best_text}"

    def summary_table(self, limit: int = 20) -> str:
        """A plain-text table of the runs, best first."""
        goal = self.goal
        values = self.primary_values()
        rows = []
        for c in self.get_children():
            row = c._row or c._fresh()
            rows.append((best_value(values.get(c.id, []), goal), row))
        rows.sort(key=lambda t: -metric_key(t[0], goal) if t[0] is not None else math.inf)
        names = list(rows[0][1].params) if rows else []
        header = ["run", "status", self.primary_metric_name, "intervals", *names]
        lines = [header]
        for value, row in rows[:limit]:
            lines.append([
                row.id.rsplit("_", 1)[-1], row.status,
                "" if value is None else f"{value:.4g}", str(len(values.get(row.id, []))),
                *(_short(row.params.get(n)) for n in names),
            ])
        widths = [max(len(str(r[i])) for r in lines) for i in range(len(header))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self.progress_line()}</pre>"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def new_parent_id() -> str:
    return f"HD_{uuid.uuid4().hex[:12]}"


StopCallback = Callable[[str, str], None]
