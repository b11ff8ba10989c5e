"""The driver: draws configurations, dispatches trials through joblib, applies the policy.

One :class:`ExperimentDriver` per submitted experiment runs in a background thread of the
notebook kernel, so the kernel stays free for other cells. It

- keeps one lane per slot of the experiment's concurrency: a joblib task on the backend active
  where ``submit`` was called (``loky`` by default, ``dask`` inside
  ``parallel_config(backend="dask")``) that asks the driver for trial after trial over the
  channel (:mod:`hdnotebook.engine.lane`; the driver's side is :mod:`hdnotebook.engine.feeder`);
  a lane that is lost fails (or retries) only its current trial, and a new lane takes its place;
- asks the sampler for one configuration at a time, when a lane asks for work, so the sampler
  always sees every result finished so far;
- receives every logged value over the channel, applies the early-termination policy in arrival
  order, and queues the values for the store;
- enforces ``max_total_runs``, ``max_concurrent_runs``, GPU slots and ``max_duration_minutes``.
"""

from __future__ import annotations

import bisect
import math
import os
import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import run_files
from ..channel import ChannelServer
from ..config import HyperDriveConfig
from ..estimator import ScriptRunConfig
from ..policy.base import StopDecision
from ..policy.none import NoTerminationPolicy
from .._vocab import TERMINAL_STATUSES, RunStatus, best_value, trial_state
from ..sampling.base import TrialRecord
from ..store import Store
from .dispatch import Dispatcher
from .feeder import Lane, LaneFeeder
from .gpus import GpuSlots, detect_gpus
from .resume import PastTrial, ResumeState
from .trial import TrialOutcome, TrialSpec

__all__ = ["ExperimentDriver"]

CANCEL_WAIT_SECONDS = 5.0


@dataclass
class _Trial:
    run_id: str
    number: int
    params: dict[str, Any]
    arguments: list[str]
    status: str = RunStatus.QUEUED
    values: list[float] = field(default_factory=list)
    stop: StopDecision | None = None
    stop_reason: str | None = None
    gpus: list[str] = field(default_factory=list)
    attempts: int = 0
    child_pid: int | None = None
    host: str = ""
    worker_pid: int | None = None
    lost: str | None = None
    rerun_of: str | None = None
    created: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    #: whether its row is in the store yet
    stored: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


class ExperimentDriver(LaneFeeder):
    """Runs one experiment in the background; the ``controller`` of its :class:`HyperDriveRun`."""

    def __init__(
        self,
        store: Store,
        experiment: str,
        parent_id: str,
        config: HyperDriveConfig,
        backend: str | None = None,
        n_jobs: int | None = None,
        channel_host: str | None = None,
        resume: ResumeState | list[dict[str, Any]] | None = None,
        warm_start: list[TrialRecord] | None = None,
    ) -> None:
        self.store = store
        self.experiment = experiment
        self.parent_id = parent_id
        self.config = config
        self.goal = config.goal
        self.primary = config.primary_metric_name
        self.policy = config.policy
        self.policy_active = not isinstance(self.policy, NoTerminationPolicy)
        #: the policy applied value by value; its own lock, taken before the driver's lock is let
        #: go, so it sees values in the order they are stored without holding up the driver
        self._policy_tracker = self.policy.tracker(self.goal)
        self._policy_lock = threading.Lock()
        self.sampler = config.hyperparameter_sampling
        self._trial_time_limit = config.trial_time_limit
        self._lock = threading.RLock()
        self._trials: dict[str, _Trial] = {}
        self._order: list[_Trial] = []
        #: the sampler's view, kept as trials end: finished trials' records by number (they never
        #: change) and the trials not finished yet (at most the concurrency, rebuilt each time)
        self._finished_records: list[TrialRecord] = []
        self._active: dict[str, _Trial] = {}
        self._histories: dict[str, list[float]] = {}
        self._lanes: dict[int, Lane] = {}
        self._lane_ends: queue.Queue[tuple[Lane, BaseException | None]] = queue.Queue()
        self._lane_failures = 0
        self._retry: list[_Trial] = []
        self._exhausted = False
        self._draw_lock = threading.Lock()
        self._cancel_reason: str | None = None
        self._done = threading.Event()
        self._wake = threading.Event()
        self._warned_metric = False
        self.started = time.time()
        self.dispatcher = Dispatcher(backend=backend, n_jobs=n_jobs)
        dask = self.dispatcher.dask
        gpu_ids = detect_gpus() if dask is None else []  # on a cluster: the workers' GPU resources
        self.gpu_per_trial = config.gpus_per_trial
        if self.gpu_per_trial > 0 and not gpu_ids and dask is None:
            raise ValueError(
                f"the trials ask for {self.gpu_per_trial:g} GPU each, but no GPU was found "
                "(CUDA_VISIBLE_DEVICES, nvidia-smi, HDNOTEBOOK_GPUS); set gpus to 0 to run on the CPU"
            )
        self.slots = GpuSlots(gpu_ids)
        self._expose_gpus = bool(gpu_ids)
        #: what each trial takes from this machine's GPU slots (on Dask, the scheduler places them)
        self._slot_request = self.gpu_per_trial if dask is None else 0.0
        capacity = [config.max_total_runs]
        if config.max_concurrent_runs:
            capacity.append(config.max_concurrent_runs)
        gpu_capacity = self.slots.capacity(self.gpu_per_trial)
        if dask is not None and self.gpu_per_trial > 0:  # Dask resources place GPU trials on workers
            dask.request_gpus(self.gpu_per_trial)
            capacity.append(dask.capacity(self.gpu_per_trial))
            if capacity[-1] == 0:
                raise ValueError(
                    f"the trials ask for {self.gpu_per_trial:g} GPU each, but no dask worker offers that "
                    "much of the resource 'GPU'; start the workers with resources={'GPU': n} "
                    "(dask worker --resources GPU=n), or set gpus_per_trial to 0"
                )
        elif gpu_capacity is None:  # CPU trials: as many as the backend has workers
            capacity.append(self.dispatcher.max_parallel())
        else:  # GPU trials: the GPU slots are the resource
            if gpu_capacity == 0:
                raise ValueError(
                    f"the trials ask for {self.gpu_per_trial:g} GPUs each, but this machine has "
                    f"{len(gpu_ids)}; ask for at most {len(gpu_ids)}"
                )
            capacity.append(gpu_capacity)
        self.concurrency = max(1, min(capacity))
        self.dispatcher.configure(self.concurrency)
        self.workspace_path = os.path.dirname(store.path)
        #: a script experiment runs from a snapshot of its source_directory taken now, as on Azure ML
        self._snapshot: str | None = None
        if isinstance(config.estimator, ScriptRunConfig):
            self._snapshot = run_files.take_snapshot(
                config.estimator.source_directory, run_files.snapshot_directory(self.workspace_path, parent_id),
                skip=[self.workspace_path])
        self._warm = [] if self.sampler.name == "grid" else list(warm_start or [])
        self._resume: list[PastTrial] = []
        self._next_number = 0
        self._used_seconds = 0.0
        if isinstance(resume, ResumeState):
            self._take_over(resume)
        else:
            self._resume = [PastTrial("", -1, dict(p), RunStatus.QUEUED) for p in resume or []]
            # runs of earlier experiments to resume from their outputs (HyperDrive's resume_child_runs)
            self._resume += [
                PastTrial("", -1, dict(c["params"]), RunStatus.QUEUED, resumed_from=c["run_id"],
                          extra_arguments=["--resume-from", c["outputs"]])
                for c in getattr(config, "resume_child_runs", None) or []
            ]
        if channel_host is None:
            channel_host = dask.channel_host() if dask is not None else "127.0.0.1"
        self.channel = ChannelServer(self._handle, host=channel_host)
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="hdnotebook-trial")
        self._thread = threading.Thread(target=self._main, name=f"hdnotebook-driver[{experiment}]", daemon=True)

    def _take_over(self, state: ResumeState) -> None:
        """Start from a stored past (resume): finished trials as they were, interrupted ones re-run."""
        for past in state.finished:
            trial = _Trial(
                run_id=past.run_id, number=past.number, params=past.params, arguments=past.arguments,
                status=past.status, values=list(past.values), attempts=past.attempts,
            )
            trial.finished.set()
            self._trials[trial.run_id] = trial
            self._order.append(trial)
            self._histories[trial.run_id] = trial.values
            self._policy_tracker.load(trial.run_id, trial.values)
            bisect.insort(self._finished_records, _record(trial, self.goal), key=_number)
        self._resume = list(state.rerun)
        self._next_number = state.next_number
        self._used_seconds = state.used_seconds

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def wait_done(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self, reason: str = "canceled by the user") -> None:
        """Stop the experiment: no new trials, running ones are told to stop."""
        with self._lock:
            if self._cancel_reason is None:
                self._cancel_reason = reason
            for trial in self._trials.values():
                if trial.status not in TERMINAL_STATUSES and trial.stop_reason is None:
                    trial.stop_reason = reason
        self._wake.set()

    def cancel_run(self, run_id: str, reason: str = "canceled by the user") -> None:
        """Stop one trial; it ends Canceled with ``reason``."""
        with self._lock:
            trial = self._trials.get(run_id)
            if trial is None:
                raise KeyError(f"no trial {run_id!r} in experiment run {self.parent_id}")
            if trial.status not in TERMINAL_STATUSES and trial.stop_reason is None:
                trial.stop_reason = reason
        self._wake.set()

    # -- the channel -----------------------------------------------------------------------------
    def _handle(self, message: tuple[Any, ...]) -> Any:
        kind = message[0]
        if kind == "log":
            _, run_id, rows, _sync = message
            return ("ok", self._ingest(run_id, rows))
        if kind == "next":
            _, lane_id, outcome, info = message
            return ("ok", self._on_next(lane_id, outcome, info))
        if kind == "poll":
            _, run_id, info = message
            return ("ok", self._on_poll(run_id, info))
        return ("error", f"unknown message {kind!r}")

    def _ingest(self, run_id: str, rows: list[tuple[Any, ...]]) -> str | None:
        with self._lock:
            trial = self._trials.get(run_id)
            if trial is None:
                return f"run {run_id} is not part of experiment run {self.parent_id}"
            self.store.add_metrics(
                (run_id, name, step, *_storable(value, text), t) for name, step, value, text, t in rows
            )
            primary = [value for name, _step, value, _text, _t in rows if name == self.primary and value is not None]
            trial.values.extend(primary)
            if not (self.policy_active and primary):
                return trial.stop_reason
            self._policy_lock.acquire()  # before the driver's lock is let go: values in store order
        try:
            decisions = [d for d in map(lambda v: self._policy_tracker.log(run_id, v), primary) if d is not None]
        finally:
            self._policy_lock.release()
        with self._lock:
            if decisions and trial.stop_reason is None and trial.status == RunStatus.RUNNING:
                trial.stop = decisions[0]
                trial.stop_reason = decisions[0].reason
                self.store.add_event(run_id, "stopped_by_policy", decisions[0].to_dict())
            return trial.stop_reason

    def _on_poll(self, run_id: str, info: dict[str, Any] | None) -> str | None:
        with self._lock:
            trial = self._trials.get(run_id)
            if trial is None:
                return f"run {run_id} is not part of experiment run {self.parent_id}"
            if info and info.get("child_pid"):
                trial.child_pid = info["child_pid"]
            return trial.stop_reason

    # -- the scheduling loop ---------------------------------------------------------------------
    def _main(self) -> None:
        error: BaseException | None = None
        try:
            self._loop()
        except BaseException as exc:  # report in the parent run, never die silently
            error = exc
            self.cancel(f"the driver failed: {exc!r}")
            self._drain_all(CANCEL_WAIT_SECONDS)
        finally:
            self._finish(error)

    def _loop(self) -> None:
        deadline = (
            self.started + self.config.max_duration_minutes * 60 - self._used_seconds
            if self.config.max_duration_minutes
            else math.inf
        )
        last_event_check = 0.0
        event_cursor = 0
        while True:
            self._wake.clear()  # before collecting: a wake-up that comes after this is not lost
            self._collect_lane_ends()
            now = time.time()
            if now >= deadline and self._cancel_reason is None:
                self.cancel(f"max_duration_minutes ({self.config.max_duration_minutes:g}) reached")
            if now - last_event_check > 0.5:
                event_cursor = self._check_external_cancels(event_cursor)
                last_event_check = now
            self._enforce_trial_time_limit(now)
            if self._cancel_reason is not None:
                self._drain_all(CANCEL_WAIT_SECONDS)
                return
            for _ in range(self._lanes_wanted()):
                self._start_lane()
            with self._lock:
                idle = not any(not lane.ended for lane in self._lanes.values())
                if idle and self._no_work_left():
                    return
            self._wake.wait(min(0.25, max(0.0, deadline - time.time())))

    def _enforce_trial_time_limit(self, now: float) -> None:
        """Cancel each trial that has run ``max_run_duration_seconds``; its values are kept."""
        limit = self._trial_time_limit
        if limit is None:
            return
        with self._lock:
            overdue = [t.run_id for t in self._active.values()
                       if t.status == RunStatus.RUNNING and t.stop_reason is None and now - t.created >= limit]
        for run_id in overdue:
            self.cancel_run(run_id, f"max_run_duration_seconds ({limit:g} s) reached")

    def _running_count(self) -> int:
        with self._lock:
            return len(self._active)

    def _records(self) -> list[TrialRecord]:
        """What the sampler is given: warm-start records, then this experiment's trials in
        creation order, the running and queued ones included.

        A finished trial's record never changes, so it is built once, when the trial ends, and
        kept in order: a suggestion costs about the same at trial 1000 as at trial 10.
        """
        with self._lock:
            records = list(self._finished_records)
            for trial in self._active.values():  # a few (the concurrency): placed by number
                bisect.insort(records, _record(trial, self.goal), key=_number)
            return [*self._warm, *records]

    def _next_params(self) -> dict[str, Any] | None:
        self._resuming = None
        if self._resume:
            past = self._resume[0]
            self._rerun_of = past.run_id or None
            self._resuming = past
            return self._resume.pop(0).params
        self._rerun_of = None
        proposals = self.sampler.suggest(self._records(), self.goal, 1)
        return proposals[0] if proposals else None

    def _create_trial(self, params: dict[str, Any], gpus: list[str]) -> _Trial:
        number = max(len(self._order), self._next_number)
        self._next_number = number + 1
        run_id = f"{self.parent_id}_{number}"
        rerun_of = getattr(self, "_rerun_of", None)
        estimator = self.config.estimator
        arguments: list[str] = []
        if isinstance(estimator, ScriptRunConfig):
            arguments = [*estimator.arguments]
            for name, value in params.items():
                arguments += [f"--{name.lstrip('-')}", _argument(value)]  # "--lr" in the space stays "--lr"
        resuming = getattr(self, "_resuming", None)
        details: dict[str, Any] = {"rerun_of": rerun_of} if rerun_of else {}
        if resuming is not None and resuming.resumed_from:
            arguments += resuming.extra_arguments
            details["resumed_from"] = resuming.resumed_from
        trial = _Trial(
            run_id=run_id, number=number, params=dict(params), arguments=arguments, gpus=gpus, rerun_of=rerun_of,
            status=RunStatus.RUNNING, attempts=1, created=time.time(),
            details={"arguments": arguments, "gpus": gpus, **details},
        )
        with self._lock:
            self._trials[run_id] = trial
            self._order.append(trial)
            self._active[run_id] = trial
            self._histories[run_id] = trial.values
        # its row is written when its lane takes it, Running at once (see _on_next)
        if rerun_of:
            self.store.update_run(rerun_of, details={"superseded_by": run_id})
        return trial

    def _spec(self, trial: _Trial) -> TrialSpec:
        """What the lane needs to run ``trial`` (the function travelled with the lane)."""
        estimator = self.config.estimator
        spec = TrialSpec(
            run_id=trial.run_id,
            params=trial.params,
            address=self.channel.address,
            authkey=self.channel.authkey,
            primary_metric=self.primary,
            sync_primary=self.policy_active,
            gpus=trial.gpus if self._expose_gpus else None,
            run_directory=run_files.run_directory(self.workspace_path, trial.run_id),
        )
        if isinstance(estimator, ScriptRunConfig):
            assert self._snapshot is not None
            spec.script_path = os.path.join(self._snapshot, estimator.script)
            spec.source_directory = self._snapshot
            spec.arguments = trial.arguments
            spec.environment = dict(getattr(estimator, "environment_variables", None) or {})
        return spec

    def _finish_trial(self, trial: _Trial, outcome: TrialOutcome) -> None:
        if trial.status in TERMINAL_STATUSES:
            return
        lost = outcome.error is not None and outcome.error.startswith("worker lost")
        if lost and trial.attempts <= self.config.max_retries and self._cancel_reason is None:
            self.store.add_event(trial.run_id, "retry", {"attempt": trial.attempts, "error": outcome.error})
            self.store.update_run(trial.run_id, status=RunStatus.QUEUED)
            with self._lock:
                trial.status = RunStatus.QUEUED
                trial.values.clear()  # the policy judges the new attempt from its first interval
                self._retry.append(trial)  # the next lane that asks runs it again
            with self._policy_lock:
                self._policy_tracker.restart(trial.run_id)
            self._wake.set()
            return
        with self._lock:
            status = outcome.status
            if trial.lost:  # its worker died and the backend's re-run was stopped: Failed, not Canceled
                status = RunStatus.FAILED
                outcome.error, outcome.stop_reason = trial.lost, None
            if status == RunStatus.FAILED and trial.stop_reason and outcome.error and "killed by SIG" in outcome.error:
                status = RunStatus.CANCELED
            trial.status = status
            details: dict[str, Any] = {"attempts": trial.attempts}
            stop_reason = outcome.stop_reason or (trial.stop_reason if status == RunStatus.CANCELED else None)
            if status == RunStatus.CANCELED:
                details["stop"] = trial.stop.to_dict() if trial.stop else {"reason": stop_reason or "canceled"}
            if outcome.error:
                details["error"] = outcome.error
            if outcome.traceback:
                details["traceback"] = outcome.traceback
            if outcome.return_value is not None:
                details["return_value"] = outcome.return_value
                if status == RunStatus.COMPLETED and not outcome.primary_logged and isinstance(outcome.return_value, float):
                    self._log_return_value(trial, outcome)
            if outcome.output is not None:
                details["output"] = outcome.output
            if outcome.exit_code is not None:
                details["exit_code"] = outcome.exit_code
            self.store.update_run(
                trial.run_id, status=status, ended=outcome.ended or time.time(),
                started=outcome.started or None, details=details,
            )
            if status == RunStatus.COMPLETED and not trial.values and not self._warned_metric:
                self._warn_missing_metric(trial)
            self._active.pop(trial.run_id, None)
            bisect.insort(self._finished_records, _record(trial, self.goal), key=_number)
        with self._policy_lock:  # from now on it counts with what it had (SPEC §4)
            self._policy_tracker.end(trial.run_id)
        self.slots.release(trial.gpus, self._slot_request)
        trial.finished.set()

    def _log_return_value(self, trial: _Trial, outcome: TrialOutcome) -> None:
        """A function trial's numeric return value is its primary metric when it logged none."""
        value = float(outcome.return_value)
        self.store.add_metrics([(trial.run_id, self.primary, 0, *_storable(value, None), outcome.ended or time.time())])
        with self._policy_lock:  # compared with, never judged: the run has completed
            self._policy_tracker.load(trial.run_id, [value], ended=False)
        trial.values.append(value)

    def _warn_missing_metric(self, trial: _Trial) -> None:
        self._warned_metric = True
        self.store.flush()
        logged = sorted({m.name for m in self.store.metrics([trial.run_id])})
        message = (
            f"run {trial.run_id} finished without logging the primary metric {self.primary!r}; "
            f"it logged {', '.join(map(repr, logged)) or 'nothing'}. primary_metric_name must equal, "
            "exactly, a name the training code passes to run.log (or return a number)."
        )
        self.store.update_run(self.parent_id, details={"warning": message})
        self.store.add_event(self.parent_id, "warning", {"message": message})

    def _check_external_cancels(self, cursor: int) -> int:
        """Cancel requests written to the store by other processes (server, another kernel)."""
        self.store.flush()
        with self._lock:
            ids = [self.parent_id, *self._active]
        for event_id, run_id, kind, payload, _t in self.store.events(ids):
            if event_id <= cursor:
                continue
            cursor = event_id
            if kind != "cancel_requested":
                continue
            reason = payload.get("reason", "canceled")
            if run_id == self.parent_id:
                self.cancel(reason)
            else:
                self.cancel_run(run_id, reason)
        return cursor

    def _drain_all(self, timeout: float) -> None:
        """Wait for running trials to end after a cancel; kill what does not end in time."""
        end = time.time() + timeout
        with self._lock:
            waiting, self._retry = self._retry, []
        for trial in waiting:  # queued for a retry: never started again
            self._finish_trial(trial, TrialOutcome(trial.run_id, RunStatus.CANCELED, stop_reason=self._cancel_reason))
        while self._running_count() and time.time() < end:
            self._wake.wait(0.05)
            self._wake.clear()
            try:
                self._collect_lane_ends()
            except RuntimeError:
                pass  # lanes that fail now have nothing left to run
        with self._lock:
            leftovers = list(self._active.values())
        for trial in leftovers:
            if trial.child_pid and trial.host == socket.gethostname():
                try:
                    os.kill(trial.child_pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
            self._finish_trial(
                trial,
                TrialOutcome(trial.run_id, RunStatus.CANCELED, stop_reason=trial.stop_reason or self._cancel_reason),
            )

    def _finish(self, error: BaseException | None) -> None:
        with self._lock:
            statuses = [t.status for t in self._order]
        if error is not None:
            status, details = RunStatus.FAILED, {"error": f"{type(error).__name__}: {error}"}
        elif self._cancel_reason is not None and not self._cancel_reason.startswith("max_duration"):
            status, details = RunStatus.CANCELED, {"stop": {"reason": self._cancel_reason}}
        elif statuses and all(s == RunStatus.FAILED for s in statuses):
            status, details = RunStatus.FAILED, {"error": "every trial failed; see the runs' errors"}
        else:
            status, details = RunStatus.COMPLETED, {}
            if self._cancel_reason:
                details["stop"] = {"reason": self._cancel_reason}
        self.store.update_run(self.parent_id, status=status, ended=time.time(), details=details)
        try:
            self.store.flush()
        finally:
            self.channel.close()
            self._pool.shutdown(wait=False)
            self.dispatcher.close()
            self._done.set()


def _record(trial: _Trial, goal: str) -> TrialRecord:
    return TrialRecord(
        number=trial.number, params=trial.params, state=trial_state(trial.status),
        value=best_value(trial.values, goal), intervals=len(trial.values), curve=tuple(trial.values),
    )


def _number(record: TrialRecord) -> int:
    return record.number


def _storable(value: float | None, text: str | None) -> tuple[float | None, str | None]:
    if value is not None and math.isnan(value):
        return None, "nan"
    return value, text


def _argument(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)
