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

import atexit
import json
import math
import os
import socket
import threading
import time
import traceback
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import run_files
from .._vocab import HEARTBEAT_SECONDS, RunStatus
from ..channel import ChannelServer, trial_key
from ..config import HyperDriveConfig, check_limits
from ..estimator import ScriptRunConfig
from ..policy.none import NoTerminationPolicy
from ..sampling.base import TrialRecord
from ..space import check_configuration
from ..steering import LIMIT_NAMES, STEER_REJECTED, STEER_REQUESTED, STEERED, SteerAction, applied_steering
from ..store import RowRejected, Store, StoreError, ValueKind, encode_value, metric_rows_from_json
from .dispatch import Dispatcher
from .feeder import Lane, LaneFeeder, kill_trial_processes
from .gpus import GpuSlots, detect_gpus
from .lane import LaneSpec
from .resume import PastTrial, ResumeState
from .trial import OutcomeKind, TrialOutcome, TrialSpec
from .trials import StopKind, Trial, TrialsTable

__all__ = ["ExperimentDriver", "DriverFailure"]

CANCEL_WAIT_SECONDS = 5.0
#: how long a trial's request waits for its values to be committed before it is told why not
STORE_ACK_SECONDS = 120.0
#: how long a trial waits while the store cannot be written (disk full...) before it fails with the cause
STORE_FAULT_GRACE_SECONDS = 30.0

#: the status a trial ends with, by how it ended (killed and worker-lost trials: see _status_of)
_STATUS_OF_KIND = {
    OutcomeKind.OK: RunStatus.COMPLETED,
    OutcomeKind.ERROR: RunStatus.FAILED,
    OutcomeKind.STOPPED: RunStatus.CANCELED,
    OutcomeKind.KILLED: RunStatus.FAILED,
    OutcomeKind.WORKER_LOST: RunStatus.FAILED,
    OutcomeKind.DRIVER_LOST: RunStatus.CANCELED,
    OutcomeKind.TIMED_OUT: RunStatus.CANCELED,
}


class DriverFailure:
    """An exception on the driver's side (sampler, policy, store, channel handler, the loop itself)."""

    def __init__(self, error: BaseException, where: str) -> None:
        self.error = error
        self.where = where
        self.message = f"{type(error).__name__}: {error}"
        self.traceback = "".join(traceback.format_exception(error))

    def details(self) -> dict[str, Any]:
        return {
            "error": f"the driver failed in the {self.where}: {self.message}",
            "error_source": self.where,
            "traceback": self.traceback,
        }


class ExperimentDriver:
    """Runs one experiment in the background; the ``controller`` of its :class:`HyperDriveRun`.

    Every exception on the driver's side ends the experiment Failed, with the error, where it
    came from and its traceback in the parent run's details.
    """

    def __init__(
        self,
        store: Store,
        experiment: str,
        parent_id: str,
        config: HyperDriveConfig,
        backend: str | None = None,
        n_jobs: int | None = None,
        channel_host: str | None = None,
        resume: ResumeState | None = None,
        warm_start: list[TrialRecord] | None = None,
    ) -> None:
        self.store = store
        self.experiment = experiment
        self.parent_id = parent_id
        self.config = config
        self.goal = config.goal
        self.primary = config.primary_metric_name
        #: the primary metric's name as it appears in the JSON text of a trial's rows
        self.primary_json = json.dumps(self.primary, ensure_ascii=False)
        self.policy = config.policy
        self.policy_active = not isinstance(self.policy, NoTerminationPolicy)
        #: the policy applied value by value; its own lock, taken before the driver's lock is let
        #: go, so it sees values in the order they are stored without holding up the driver
        self._policy_tracker = self.policy.tracker(self.goal)
        self._policy_lock = threading.Lock()
        self.sampler = config.hyperparameter_sampling
        self._trial_time_limit = config.trial_time_limit
        self._retry: list[Trial] = []
        self._exhausted = False
        self._draw_lock = threading.Lock()
        self._cancel_reason: str | None = None
        self._cancel_kind: StopKind | None = None
        self.failure: DriverFailure | None = None
        self._done = threading.Event()
        self._wake = threading.Event()
        #: set by poke(): look at the store's requests now rather than at the next half second
        self._poked = threading.Event()
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
        capacity: list[int] = []  # what the machine (or cluster) runs at once
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
        self._machine_capacity = max(1, min(capacity))
        #: the limits in force: the config's, as steering (set_limits) changed them
        self.limits: dict[str, Any] = {name: getattr(config, name) for name in LIMIT_NAMES}
        self._paused = False
        #: enqueued and restarted trials, run before new samples
        self._enqueued: list[Trial] = []
        #: steering requests answered (in this session or an earlier one): never applied twice
        self._answered: set[str] = set()
        self._replay_steering()
        self.concurrency = self._concurrency_for()
        self.dispatcher.configure(self.concurrency)
        self.trials = TrialsTable(self.goal, self.slots, self._slot_request)
        self._lock = self.trials.lock
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
        if resume is not None:
            self._take_over(resume)
        else:  # runs of earlier experiments to resume from their outputs (HyperDrive's resume_child_runs)
            self._resume = [
                PastTrial("", -1, dict(c["params"]), RunStatus.QUEUED, resumed_from=c["run_id"],
                          extra_arguments=["--resume-from", c["outputs"]])
                for c in getattr(config, "resume_child_runs", None) or []
            ]
        if channel_host is None:
            channel_host = dask.channel_host() if dask is not None else "127.0.0.1"
        self.channel = ChannelServer(self._handle, host=channel_host)
        # threads are made as lanes need them: room for as many lanes as the machine runs (set_limits)
        self._pool = ThreadPoolExecutor(max_workers=self._machine_capacity, thread_name_prefix="hdnotebook-trial")
        function = None if isinstance(config.estimator, ScriptRunConfig) else config.estimator
        self.feeder = LaneFeeder(
            self, self.dispatcher,
            lambda lane_id: LaneSpec(
                lane_id, self.channel.address, self.channel.authkey, function,
                driver_pid=os.getpid(), driver_host=socket.gethostname(),
            ),
            self._pool, self.concurrency, self._lock, self._wake.set,
        )
        if self._paused:
            self.feeder.concurrency = 0
        self._events_before_start = 0  # set by start(): the newest event id then
        self._thread = threading.Thread(target=self._main, name=f"hdnotebook-driver[{experiment}]", daemon=True)

    def _take_over(self, state: ResumeState) -> None:
        """Start from a stored past (resume): finished trials as they were, interrupted ones re-run."""
        for past in state.finished:
            trial = Trial(
                run_id=past.run_id, number=past.number, params=past.params, arguments=past.arguments,
                status=past.status, values=list(past.values), attempts=past.attempts,
            )
            trial.runtime.stored = True
            self.trials.add(trial)
            self._policy_tracker.load(trial.run_id, trial.values)
        self._resume = list(state.rerun)
        self._next_number = state.next_number
        self._used_seconds = state.used_seconds

    # -- lifecycle (the RunController of experiment_run) ---------------------------------------
    def start(self) -> None:
        _RUNNING.add(self)
        # Cancel requests already in the store were for an earlier session of this run (a resume
        # after a cancel from another kernel or the sidebar): this driver reads only newer ones.
        self.store.flush(STORE_ACK_SECONDS, fault_grace=1.0)
        self._events_before_start = self.store.last_event_id()
        self._thread.start()

    def wait_done(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self, reason: str = "canceled by the user", kind: StopKind = StopKind.USER) -> None:
        """Stop the experiment: no new trials, running ones are told to stop."""
        with self._lock:
            if self._cancel_reason is None:
                self._cancel_reason, self._cancel_kind = reason, kind
            for trial in self.trials.active.values():
                self._ask_to_stop(trial, reason, kind)
        self.feeder.close()
        self._wake.set()

    def cancel_run(self, run_id: str, reason: str = "canceled by the user", kind: StopKind = StopKind.USER) -> None:
        """Stop one trial; it ends Canceled with ``reason``."""
        trial = self.trials.get(run_id)
        if trial is None:
            raise KeyError(f"no trial {run_id!r} in experiment run {self.parent_id}")
        with self._lock:
            self._ask_to_stop(trial, reason, kind)
        self._wake.set()

    def poke(self) -> None:
        """Look at the store's requests (cancels, steering) now: a request was just written."""
        self._poked.set()
        self._wake.set()

    # -- steering (hdnotebook.steering: requests in the store, applied here) ---------------------
    def _replay_steering(self) -> None:
        """Take over what earlier sessions of this run applied: its limits and whether it is paused.

        Requests no driver answered yet (written while no kernel ran it) are applied by the loop.
        """
        applied = applied_steering(self.store, self.parent_id)
        self._answered, self._paused = applied.answered, applied.paused
        self.limits.update(applied.limits)

    def _concurrency_for(self) -> int:
        """How many trials run at once under the limits in force and the machine's slots."""
        bounds = [self.limits["max_total_runs"], self._machine_capacity]
        if self.limits["max_concurrent_runs"]:
            bounds.append(self.limits["max_concurrent_runs"])
        return max(1, min(bounds))

    def _steer(self, payload: dict[str, Any]) -> None:
        """Apply one steering request from the store and answer it there (the one place this happens).

        A request that cannot be applied (a bad limit, a configuration outside the space, no budget
        left) is answered ``steer_rejected`` with the reason; the experiment goes on.
        """
        request_id, action = payload.get("request_id"), payload.get("action")
        if not request_id or request_id in self._answered:
            return
        self._answered.add(request_id)
        answer = {"request_id": request_id, "action": action}
        try:
            message, result = self._apply_steer(SteerAction(action), dict(payload.get("args") or {}))
        except (ValueError, TypeError) as exc:
            self.store.add_event(self.parent_id, STEER_REJECTED, {**answer, "message": str(exc)})
        else:
            self.store.add_event(self.parent_id, STEERED, {**answer, "message": message, "result": result})
        try:  # the answer is seen at once by whoever waits for it
            self.store.flush(STORE_ACK_SECONDS, fault_grace=1.0)
        except StoreError:
            pass  # queued: committed once the file can be written again
        self._wake.set()

    def _apply_steer(self, action: SteerAction, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self._cancel_reason is not None:
            raise ValueError(f"experiment run {self.parent_id} is ending ({self._cancel_reason})")
        if action in (SteerAction.PAUSE, SteerAction.RESUME):
            with self._lock:
                self._paused = action == SteerAction.PAUSE
                running = len(self.trials.active)
            self._apply_concurrency()
            self.store.update_run(self.parent_id, details={"paused": self._paused})
            if self._paused:
                return f"paused: no new runs start; {running} running finish", {"paused": True}
            return f"resumed: up to {self.feeder.concurrency} runs at once", {"paused": False}
        if action == SteerAction.SET_LIMITS:
            changes = check_limits(args)
            with self._lock:
                before = dict(self.limits)
                self.limits.update(changes)
                if "max_total_runs" in changes:
                    self._exhausted = False  # the next draw decides again
                created = self.trials.counted()
            self._apply_concurrency()
            self.store.update_run(self.parent_id, details=dict(self.limits))
            said = [f"{n} {before[n]} -> {changes[n]}" for n in changes]
            message = f"{'; '.join(said)}; {created} runs created, up to {self._concurrency_for()} at once"
            if time.time() >= self._deadline():
                message += "; the time is up: the experiment ends now"
            return message, {"limits": changes, "concurrency": self._concurrency_for(), "created": created}
        if action == SteerAction.ENQUEUE:
            params = check_configuration(self.sampler.parameter_space, args.get("params"))
            trial = self._queue_trial(params, {"enqueued": True}, first=False)
            return (f"run {trial.run_id} is queued with {params}; it starts before new samples",
                    {"run_id": trial.run_id, "params": params})
        # RESTART
        old_id = args.get("run_id")
        old = self.trials.get(old_id) if isinstance(old_id, str) else None
        if old is None:
            raise ValueError(f"restart: run_id must name a run of experiment run {self.parent_id}, got {old_id!r}")
        trial = self._queue_trial(dict(old.params), {"restart_of": old.run_id}, first=True)
        was_running = not RunStatus(old.status).is_finished
        if was_running:
            self.cancel_run(old.run_id, f"restarted by the user as {trial.run_id}")
        self.store.update_run(old.run_id, details={"restarted_as": trial.run_id})
        return (f"run {trial.run_id} restarts {old.run_id} with the same parameters"
                + (f"; {old.run_id} is stopped" if was_running else ""),
                {"run_id": trial.run_id, "restart_of": old.run_id, "params": dict(old.params), "stopped": was_running})

    def _queue_trial(self, params: dict[str, Any], details: dict[str, Any], first: bool) -> Trial:
        """A trial asked for by hand (enqueue, restart): counted in the budget, run before new samples."""
        with self._lock:
            total = self.limits["max_total_runs"]
            if self.trials.counted() >= total:
                raise ValueError(
                    f"max_total_runs ({total}) runs are already created; raise it first, e.g. "
                    f"set_limits(max_total_runs={total + 1})"
                )
            trial = self._create_trial(params, details=details)
            trial.runtime.stored = True
            self.store.insert_run(
                id=trial.run_id, experiment=self.experiment, parent_id=self.parent_id, number=trial.number,
                status=RunStatus.QUEUED, created=trial.created, params=trial.params, details=trial.details,
            )
            self._enqueued.insert(0 if first else len(self._enqueued), trial)
        return trial

    def _apply_concurrency(self) -> None:
        """Lanes follow the limits: none start while paused, lanes past the limit end after their trial."""
        target = 0 if self._paused else self._concurrency_for()
        if target > (self.dispatcher.pool_size or 0):
            self.dispatcher.configure(target)
        self.feeder.concurrency = target
        self._wake.set()

    def _ask_to_stop(self, trial: Trial, reason: str, kind: StopKind) -> None:
        if not RunStatus(trial.status).is_finished and trial.runtime.stop_reason is None:
            trial.runtime.stop_reason, trial.runtime.stop_kind = reason, kind

    def _fail(self, error: BaseException, where: str) -> None:
        """An exception on the driver's side: the experiment ends Failed with it (the first one)."""
        with self._lock:
            if self.failure is None:
                self.failure = DriverFailure(error, where)
        self.cancel(f"the driver failed in the {where}: {type(error).__name__}: {error}", StopKind.DRIVER_FAILED)

    # -- the channel -----------------------------------------------------------------------------
    def _handle(self, message: tuple[Any, ...]) -> Any:
        kind = message[0]
        try:
            if kind == "log":
                _, run_id, rows, _sync = message
                if isinstance(rows, str) and not rows.startswith("["):
                    return ("error", "the rows of a log message must be a list, or the JSON text of one")
                self.store.wait_for_room()  # back-pressure: the trial waits while the writer is behind
                ticket, stop = self._ingest(run_id, rows)
                try:  # the values are acknowledged only once committed (SPEC §11)
                    self.store.wait(ticket, STORE_ACK_SECONDS, fault_grace=STORE_FAULT_GRACE_SECONDS)
                except (RowRejected, StoreError, TimeoutError) as exc:
                    return ("error", str(exc))  # that trial fails with the store's reason
                return ("ok", stop)
            if kind == "next":
                _, lane_id, outcome, info = message
                spec = self.feeder.on_next(lane_id, outcome, info)
                # How the last trial ended is queued before anything of the next one, and the
                # writer commits in queue order, so it is committed before any value of the next
                # trial is acknowledged: the lane need not wait for that commit here. While the
                # file cannot be written (disk full...), lanes do wait: no new trial starts then.
                if self.store.fault is not None:
                    self.store.flush(STORE_ACK_SECONDS, fault_grace=STORE_ACK_SECONDS)
                return ("ok", spec)
            if kind == "poll":
                _, run_id, info = message
                return ("ok", self._on_poll(run_id, info))
        except Exception as exc:  # a bug on this side must not pass as a trial's end: fail with it
            self._fail(exc, f"channel handler ({kind!r} message)")
            return ("error", repr(exc))
        return ("error", f"unknown message {kind!r}")

    def _ingest(self, run_id: str, rows: list[Sequence[Any]] | str) -> tuple[int, str | None]:
        """Queue a trial's rows ``(name, step, kind, value, text, time)`` (a list, or the JSON text
        of one: see :func:`~hdnotebook.store.metric_rows_json`) and apply the policy; returns the
        store ticket of the rows and the stop reason, if any."""
        primary = primary_values(rows, self.primary, self.primary_json)
        with self._lock:
            trial = self.trials.get(run_id)
            if trial is None:
                return 0, f"run {run_id} is not part of experiment run {self.parent_id}"
            if RunStatus(trial.status).is_finished:  # e.g. the orphan of a lost worker: a finished run never changes
                return 0, f"run {run_id} has already ended ({trial.status}); its later values are not kept"
            if isinstance(rows, str):
                ticket = self.store.add_run_metrics_json(run_id, rows)
            else:
                ticket = self.store.add_metrics([(run_id, *row) for row in rows])  # (name, step, kind, value, text, time)
            trial.values.extend(primary)
            runtime = trial.runtime
            if not (self.policy_active and primary) or self.failure is not None:
                return ticket, runtime.stop_reason
            self._policy_lock.acquire()  # before the driver's lock is let go: values in store order
        error: Exception | None = None
        decisions = []
        try:
            for value in primary:
                decision = self._policy_tracker.log(run_id, value)
                if decision is not None:
                    decisions.append(decision)
        except Exception as exc:  # a policy that raises fails the experiment (never ignored)
            error = exc
        finally:
            self._policy_lock.release()
        if error is not None:
            self._fail(error, f"policy ({type(self.policy).__name__})")
            return ticket, runtime.stop_reason  # the failure asked every trial to stop
        with self._lock:
            if decisions and runtime.stop_reason is None and trial.status == RunStatus.RUNNING:
                runtime.stop = decisions[0]
                runtime.stop_reason, runtime.stop_kind = decisions[0].reason, StopKind.POLICY
                self.store.add_event(run_id, "stopped_by_policy", decisions[0].to_dict())
            return ticket, runtime.stop_reason

    def _on_poll(self, run_id: str, info: dict[str, Any] | None) -> str | None:
        with self._lock:
            trial = self.trials.get(run_id)
            if trial is None:
                return f"run {run_id} is not part of experiment run {self.parent_id}"
            if info and info.get("child_pid"):
                trial.runtime.child_pid = info["child_pid"]
            return trial.runtime.stop_reason

    # -- the scheduling loop ---------------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # report in the parent run, never die silently
            self._fail(exc, "driver loop")
        try:
            if self._cancel_reason is not None:
                self._drain_all(CANCEL_WAIT_SECONDS)
        except BaseException as exc:
            self._fail(exc, "driver loop")
        finally:
            self._finish()

    def _deadline(self) -> float:
        """When ``max_duration_minutes`` (as steered) runs out; earlier sessions' time counts."""
        minutes = self.limits["max_duration_minutes"]
        return self.started + minutes * 60 - self._used_seconds if minutes else math.inf

    def _loop(self) -> None:
        last_event_check = last_beat = 0.0
        event_cursor = self._events_before_start
        while True:
            self._wake.clear()  # before collecting: a wake-up that comes after this is not lost
            self.feeder.collect_ended()
            now = time.time()
            if now - last_event_check > 0.5 or self._poked.is_set():
                self._poked.clear()
                event_cursor = self._check_external_cancels(event_cursor)
                last_event_check = now
            if now >= self._deadline() and self._cancel_reason is None:
                self.cancel(f"max_duration_minutes ({self.limits['max_duration_minutes']:g}) reached", StopKind.MAX_DURATION)
            self._enforce_trial_time_limit(now)
            if now - last_beat >= HEARTBEAT_SECONDS:
                self.store.update_run(self.parent_id, details={"heartbeat": now, **self._best_details()})
                last_beat = now
            if self._cancel_reason is not None:
                return
            self.feeder.start_lanes()
            if self.feeder.idle() and self.work_left() == 0:
                return
            self._wake.wait(min(0.25, max(0.0, self._deadline() - time.time())))

    def _enforce_trial_time_limit(self, now: float) -> None:
        """Cancel each trial that has run ``max_run_duration_seconds``; its values are kept."""
        limit = self._trial_time_limit
        if limit is None:
            return
        with self._lock:
            overdue = [t.run_id for t in self.trials.active.values()
                       if t.status == RunStatus.RUNNING and t.runtime.stop_reason is None
                       and now - (t.runtime.started or t.created) >= limit]
        for run_id in overdue:
            self.cancel_run(run_id, f"max_run_duration_seconds ({limit:g} s) reached", StopKind.TIME_LIMIT)

    # -- the trial source of the feeder ----------------------------------------------------------
    def work_left(self) -> int:
        """Retries waiting, interrupted trials to re-run, and new trials the budget still allows."""
        with self._lock:
            if self._cancel_reason is not None:
                return 0
            fresh = 0 if self._exhausted else max(0, self.limits["max_total_runs"] - self.trials.counted())
            return len(self._retry) + len(self._resume) + len(self._enqueued) + fresh

    def next_trial(self) -> Trial | None:
        """The next trial: a retry, else an interrupted one (resume), else a new configuration."""
        with self._draw_lock:
            with self._lock:
                if self._cancel_reason is not None:
                    return None
                if self._retry:
                    return self._retry.pop(0)
                if self._enqueued:
                    return self._enqueued.pop(0)
                if self._exhausted or (self.trials.counted() >= self.limits["max_total_runs"] and not self._resume):
                    self._exhausted = True
                    return None
            rerun_of: str | None = None
            resuming: PastTrial | None = None
            if self._resume:
                resuming = self._resume.pop(0)
                params, rerun_of = resuming.params, resuming.run_id or None
            else:
                try:
                    proposals = self.sampler.suggest(self._records(), self.goal, 1)
                except Exception as exc:  # a GP that cannot factorise, a user's sampler, ...
                    self._fail(exc, f"sampler ({type(self.sampler).__name__}.suggest)")
                    return None
                if not proposals:
                    with self._lock:
                        self._exhausted = True
                    return None
                params = proposals[0]
            with self._lock:
                if self._cancel_reason is not None:
                    return None
                trial = self._create_trial(params, rerun_of=rerun_of, resuming=resuming)
            if rerun_of:
                self.store.update_run(rerun_of, details={"superseded_by": trial.run_id})
            return trial

    def begin(self, trial: Trial, lane: Lane, info: dict[str, Any]) -> TrialSpec | None:
        """``trial`` goes to ``lane``: it takes its GPUs and is Running; its row says so."""
        gpus = self.slots.acquire(self._slot_request)
        if gpus is None:  # cannot happen with one lane per slot; put it back rather than overbook
            with self._lock:
                self._retry.insert(0, trial)
            return None
        if not self.trials.start(trial, gpus):
            return None  # it ended meanwhile (a cancel drained it)
        runtime = trial.runtime
        with self._lock:
            runtime.child_pid = info.get("child_pid")
            runtime.host, runtime.worker_pid = lane.host, lane.pid
        running = {"pid": lane.pid, "host": lane.host, "gpus": gpus or None, "attempts": trial.attempts,
                   "lane": lane.slot}
        if not runtime.stored:  # a new trial: one row, already Running
            runtime.stored = True
            self.store.insert_run(
                id=trial.run_id, experiment=self.experiment, parent_id=self.parent_id, number=trial.number,
                status=RunStatus.RUNNING, created=trial.created, started=time.time(), params=trial.params,
                details={**trial.details, **running},
            )
        else:
            self.store.update_run(trial.run_id, status=RunStatus.RUNNING, started=time.time(), details=running)
        return self._spec(trial)

    def finish(self, trial: Trial, outcome: TrialOutcome) -> bool:
        """End ``trial`` as ``outcome`` says (a lost worker's trial may be retried as a new run).

        Returns ``False``, changing nothing, when the trial had already ended.
        """
        with self._lock:
            status = self._status_of(trial, outcome)
            if not self.trials.can_move(trial, status):
                return False
            retry = None
            if (
                outcome.kind == OutcomeKind.WORKER_LOST
                and trial.attempts <= self.config.max_retries
                and self._cancel_reason is None
            ):
                retry = self._create_trial(trial.params, rerun_of=trial.run_id, attempts=trial.attempts + 1)
            moved = self.trials.finish(trial, status, superseded_by=retry.run_id if retry else None)
            assert moved, "checked under the same lock"
            if status == RunStatus.CANCELED and trial.runtime.stop_kind == StopKind.TIME_LIMIT:
                outcome.kind = OutcomeKind.TIMED_OUT  # stopped (or killed) because it ran past its limit
            self._store_outcome(trial, status, outcome)
            with self._policy_lock:  # from now on it counts with what it had (SPEC §4); a retry is a new run
                self._policy_tracker.end(trial.run_id)
            if retry is not None:
                self.store.update_run(trial.run_id, details={"superseded_by": retry.run_id})
                self.store.add_event(trial.run_id, "retry", {
                    "attempt": trial.attempts, "error": outcome.error, "rerun": retry.run_id,
                })
                retry.runtime.stored = True
                self.store.insert_run(
                    id=retry.run_id, experiment=self.experiment, parent_id=self.parent_id, number=retry.number,
                    status=RunStatus.QUEUED, created=retry.created, params=retry.params, details=retry.details,
                )
                self._retry.append(retry)  # the next lane that asks runs it
            # The loop has nothing to do for a trial that ended while its lane goes on (a lane
            # that ends wakes it itself): waking it for every trial cost a thread switch each.
            wake = retry is not None or self._cancel_reason is not None or not self.trials.active
        if wake:
            self._wake.set()
        return True

    def _status_of(self, trial: Trial, outcome: TrialOutcome) -> str:
        kind = OutcomeKind(outcome.kind)
        if kind == OutcomeKind.KILLED and trial.runtime.stop_reason is not None:
            return RunStatus.CANCELED  # killed because the driver asked it to stop
        return _STATUS_OF_KIND[kind]

    # -- trials ----------------------------------------------------------------------------------
    def _running_count(self) -> int:
        with self._lock:
            return len(self.trials.active)

    def _records(self) -> list[TrialRecord]:
        """What the sampler is given: warm-start records, then this experiment's trials in order."""
        return [*self._warm, *self.trials.records()]

    def _create_trial(
        self, params: dict[str, Any], rerun_of: str | None = None, attempts: int = 1,
        resuming: PastTrial | None = None, details: dict[str, Any] | None = None,
    ) -> Trial:
        """A new queued trial (under the lock); its row is written when a lane takes it.

        ``resuming``: the stored trial it re-runs, or the earlier experiment's run it resumes from.
        """
        number = max(len(self.trials.order), self._next_number)
        self._next_number = number + 1
        run_id = f"{self.parent_id}_{number}"
        estimator = self.config.estimator
        arguments: list[str] = []
        if isinstance(estimator, ScriptRunConfig):
            arguments = [*estimator.arguments]
            for name, value in params.items():
                arguments += [f"--{name.lstrip('-')}", _argument(value)]  # "--lr" in the space stays "--lr"
        details = {**({"rerun_of": rerun_of} if rerun_of else {}), **(details or {})}
        if resuming is not None and resuming.resumed_from:
            arguments += resuming.extra_arguments
            details["resumed_from"] = resuming.resumed_from
        trial = Trial(
            run_id=run_id, number=number, params=dict(params), arguments=arguments, rerun_of=rerun_of,
            attempts=attempts, created=time.time(), details={"arguments": arguments, **details},
        )
        return self.trials.add(trial)

    def _spec(self, trial: Trial) -> TrialSpec:
        """What the lane needs to run ``trial`` (the function travelled with the lane)."""
        estimator = self.config.estimator
        spec = TrialSpec(
            run_id=trial.run_id,
            params=trial.params,
            address=self.channel.address,
            authkey=trial_key(self.channel.authkey, trial.run_id),
            primary_metric=self.primary,
            sync_primary=self.policy_active,
            gpus=trial.runtime.gpus if self._expose_gpus else None,
            run_directory=run_files.run_directory(self.workspace_path, trial.run_id),
        )
        if isinstance(estimator, ScriptRunConfig):
            assert self._snapshot is not None
            spec.script_path = os.path.join(self._snapshot, estimator.script)
            spec.source_directory = self._snapshot
            spec.arguments = trial.arguments
            spec.environment = dict(getattr(estimator, "environment_variables", None) or {})
        return spec

    def _store_outcome(self, trial: Trial, status: str, outcome: TrialOutcome) -> None:
        """The finished trial's row (called under the lock, once per trial)."""
        runtime = trial.runtime
        details: dict[str, Any] = {"attempts": trial.attempts, "outcome": str(outcome.kind)}
        if status == RunStatus.CANCELED:
            reason = outcome.stop_reason or runtime.stop_reason or "canceled"
            details["stop"] = runtime.stop.to_dict() if runtime.stop else {"reason": reason}
            if runtime.stop_kind is not None:
                details["stop_kind"] = str(runtime.stop_kind)
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
        if not runtime.stored:  # it never reached a lane (canceled while queued)
            runtime.stored = True
            self.store.insert_run(
                id=trial.run_id, experiment=self.experiment, parent_id=self.parent_id, number=trial.number,
                status=status, created=trial.created, ended=outcome.ended or time.time(), params=trial.params,
                details={**trial.details, **details},
            )
        else:
            self.store.update_run(
                trial.run_id, status=status, ended=outcome.ended or time.time(),
                started=outcome.started or None, details=details,
            )
        if status == RunStatus.COMPLETED and not trial.values and not self._warned_metric:
            self._warn_missing_metric(trial)

    def _log_return_value(self, trial: Trial, outcome: TrialOutcome) -> None:
        """A function trial's numeric return value is its primary metric when it logged none."""
        value = float(outcome.return_value)
        self.store.add_metrics([(trial.run_id, self.primary, 0, *encode_value(value), outcome.ended or time.time())])
        with self._policy_lock:  # compared with, never judged: the run has completed
            self._policy_tracker.load(trial.run_id, [value], ended=False)
        trial.values.append(value)

    def _warn_missing_metric(self, trial: Trial) -> None:
        self._warned_metric = True
        self.store.flush(STORE_ACK_SECONDS, fault_grace=STORE_FAULT_GRACE_SECONDS)
        logged = sorted({m.name for m in self.store.metrics([trial.run_id])})
        message = (
            f"run {trial.run_id} finished without logging the primary metric {self.primary!r}; "
            f"it logged {', '.join(map(repr, logged)) or 'nothing'}. primary_metric_name must equal, "
            "exactly, a name the training code passes to run.log (or return a number)."
        )
        self.store.update_run(self.parent_id, details={"warning": message})
        self.store.add_event(self.parent_id, "warning", {"message": message})

    def _check_external_cancels(self, cursor: int) -> int:
        """Cancel and steering requests written to the store (this kernel, another one, the server)."""
        try:
            self.store.flush(STORE_ACK_SECONDS, fault_grace=1.0)
        except StoreError:
            return cursor  # the file cannot be written now: look again next time

        with self._lock:
            ids = [self.parent_id, *self.trials.active]
        for event_id, run_id, kind, payload, _t in self.store.events(ids):
            if kind == STEER_REQUESTED and run_id == self.parent_id:
                self._steer(payload)  # by request id: answered ones (any session) are skipped
                continue
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
            waiting, self._retry, self._enqueued = [*self._retry, *self._enqueued], [], []
        for trial in waiting:  # queued for a retry, enqueued or restarted: never started
            self.finish(trial, TrialOutcome(trial.run_id, RunStatus.CANCELED, stop_reason=self._cancel_reason))
        while self._running_count() and time.time() < end:
            self._wake.wait(0.05)
            self._wake.clear()
            try:
                self.feeder.collect_ended()
            except RuntimeError:
                pass  # lanes that fail now have nothing left to run
        with self._lock:
            leftovers = list(self.trials.active.values())
        for trial in leftovers:
            runtime = trial.runtime
            kill_trial_processes(runtime)
            self.finish(trial, TrialOutcome(
                trial.run_id, RunStatus.CANCELED, stop_reason=runtime.stop_reason or self._cancel_reason,
                kind=OutcomeKind.STOPPED,
            ))

    def _best_details(self) -> dict[str, Any]:
        """``best`` and ``best_run`` for the experiment run's details: the sidebar's list reads them."""
        run_id, value = self.trials.best_run()
        return {"best": value, "best_run": run_id}

    def _finish(self) -> None:
        """The experiment's end: its status and why, then the channel, pool and workers go."""
        statuses = self.trials.statuses()
        details: dict[str, Any]
        if self.failure is not None:
            status, details = RunStatus.FAILED, self.failure.details()
        elif self._cancel_reason is not None and self._cancel_kind != StopKind.MAX_DURATION:
            status, details = RunStatus.CANCELED, {"stop": {"reason": self._cancel_reason, "kind": str(self._cancel_kind)}}
        elif statuses and all(s == RunStatus.FAILED for s in statuses):
            status, details = RunStatus.FAILED, {"error": "every trial failed; see the runs' errors"}
        else:
            status, details = RunStatus.COMPLETED, {}
            if self._cancel_reason:
                details["stop"] = {"reason": self._cancel_reason, "kind": str(self._cancel_kind)}
        details.update(self._best_details())
        try:
            self.store.update_run(self.parent_id, status=status, ended=time.time(), details=details)
            self.store.flush(STORE_ACK_SECONDS, fault_grace=STORE_FAULT_GRACE_SECONDS)
        finally:
            self.channel.close()
            self._pool.shutdown(wait=False)
            self.dispatcher.close()
            self._done.set()


#: drivers started in this process: a clean exit of the kernel ends them first (see _end_at_exit)
_RUNNING: weakref.WeakSet[ExperimentDriver] = weakref.WeakSet()


def _end_at_exit() -> None:
    """At a clean interpreter exit: stop running experiments and let them record how their trials
    ended, before the store drains and closes (its own exit hook runs after this one)."""
    drivers = [d for d in list(_RUNNING) if not d.done]
    for driver in drivers:
        driver.cancel("the notebook kernel exited")
    for driver in drivers:
        driver.wait_done(CANCEL_WAIT_SECONDS + 5.0)


atexit.register(_end_at_exit)




def primary_values(rows: Sequence[Sequence[Any]] | str, primary: str, primary_json: str | None = None) -> list[float]:
    """The numbers logged as metric ``primary`` in a trial's rows ``(name, step, kind, value,
    text, time)``, given as a list or as their JSON text; NaN (sent as ``None`` with kind NAN) is
    a NaN here, text and ``None`` are not numbers. ``primary_json``: ``json.dumps(primary,
    ensure_ascii=False)``, when the caller keeps it.

    A JSON text is decoded only when it can hold the primary: without a backslash (no escape)
    every name in it appears as itself, quoted.

    >>> primary_values('[["loss",0,0,0.5,null,1.0],["acc",0,0,0.9,null,1.0],["loss",1,2,null,null,1.0]]', "loss")
    [0.5, nan]
    >>> primary_values('[["acc",0,0,0.9,null,1.0]]', "loss")
    []
    """
    if isinstance(rows, str):
        token = primary_json if primary_json is not None else json.dumps(primary, ensure_ascii=False)
        if token not in rows and "\\" not in rows:
            return []
        rows = [row[1:] for row in metric_rows_from_json("", rows)[0]]
    values = []
    for row in rows:
        if row[0] == primary:
            value = row[3]
            if value is not None:
                values.append(value)
            elif row[2] == ValueKind.NAN:
                values.append(math.nan)
    return values


def _argument(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)
