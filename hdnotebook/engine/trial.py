"""One trial, on the worker side: how it is run, supervised and reported.

A lane (:mod:`hdnotebook.engine.lane`) hands each trial here:

- a function trial runs with its run as ``Run.get_context()`` (:func:`_call_function`), in the
  lane's trial host (a fork of the worker) or, where the worker has other threads, inline;
- a script trial runs as ``python script.py ARGS`` in its own process group (:func:`_run_script`).

While the trial runs, the lane polls the driver every 0.2 s (:func:`_supervise`); when the driver
says stop, a function trial first gets the chance to stop at its next ``run.log``, then SIGTERM,
then SIGKILL; a script gets SIGTERM at once and SIGKILL after the grace period. How the trial
ended travels back to the driver as a :class:`TrialOutcome`.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from numbers import Real
from typing import IO, Any, Callable

from .. import run_files
from .._vocab import RunStatus, StrEnum
from ..channel import ChannelClient, register_message
from ..run import (
    ENV_ADDRESS,
    ENV_KEY,
    ENV_PRIMARY,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_SYNC,
    LOST_DRIVER,
    DriverLost,
    MLFLOW_TRACKING_URI,
    TrialStopped,
    TrialStoreError,
    _TrialRun,
    enter_trial,
    leave_trial,
)

__all__ = ["TrialSpec", "TrialOutcome", "OutcomeKind"]

POLL_SECONDS = 0.2
OUTPUT_TAIL = 20_000


@dataclass
class TrialSpec:
    """Everything a lane needs to run one trial (sent by the driver; the function comes with the lane)."""

    run_id: str
    params: dict[str, Any]
    address: tuple[str, int]
    #: the trial's own key (:func:`hdnotebook.channel.trial_key`): log and poll of this run only
    authkey: bytes
    primary_metric: str
    sync_primary: bool
    function: Callable[..., Any] | None = None
    script_path: str | None = None
    source_directory: str | None = None
    arguments: list[str] = field(default_factory=list)
    gpus: list[str] | None = None
    grace_seconds: float = 2.0
    #: the run's folder (:mod:`hdnotebook.run_files`); a script runs in a copy of
    #: ``source_directory`` (the experiment's snapshot) made there
    run_directory: str | None = None
    #: variables set for a script trial (an environment's ``environment_variables``)
    environment: dict[str, str] = field(default_factory=dict)


class OutcomeKind(StrEnum):
    """How a trial ended; the engine decides on this, never on the text of a message.

    ``ok``: it returned; ``error``: it raised or exited non-zero; ``stopped``: it stopped when told
    to (policy, cancel); ``killed``: a signal ended its process; ``worker_lost``: the worker running
    it died (the engine notices, the worker cannot); ``driver_lost``: it could not reach the driver;
    ``timed_out``: it ran past its time limit.
    """

    OK = "ok"
    ERROR = "error"
    STOPPED = "stopped"
    KILLED = "killed"
    WORKER_LOST = "worker_lost"
    DRIVER_LOST = "driver_lost"
    TIMED_OUT = "timed_out"


#: the kind an outcome built with only a status has
_KIND_OF_STATUS = {RunStatus.COMPLETED: OutcomeKind.OK, RunStatus.CANCELED: OutcomeKind.STOPPED}


@dataclass
class TrialOutcome:
    """How a trial ended, as the worker saw it: ``kind`` says how; messages are for people."""

    run_id: str
    status: str
    error: str | None = None
    traceback: str | None = None
    return_value: Any = None
    stop_reason: str | None = None
    exit_code: int | None = None
    output: str | None = None
    primary_logged: bool = False
    pid: int | None = None
    host: str = ""
    imported: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    kind: OutcomeKind | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = _KIND_OF_STATUS.get(self.status, OutcomeKind.ERROR)
        elif not isinstance(self.kind, OutcomeKind):  # decoded from the channel: its text
            self.kind = OutcomeKind(self.kind)


def _stop_kind(stop: str) -> OutcomeKind:
    """A stop reason relayed by the poll: the driver's request, or the poll's own lost-driver reason."""
    return OutcomeKind.DRIVER_LOST if stop == LOST_DRIVER else OutcomeKind.STOPPED


# both travel over the channel as data; a trial's parameters go pickled to the trial only
register_message(TrialSpec, opaque=("params",))
register_message(TrialOutcome)


def _poll(client: ChannelClient, run_id: str, info: dict[str, Any] | None = None) -> str | None:
    reply = client.request(("poll", run_id, info))
    return reply[1] if reply and reply[0] == "ok" else None


# ---------------------------------------------------------------------------------------------
# function trials
# ---------------------------------------------------------------------------------------------
def _call_function(spec: TrialSpec, process_wide: bool, client: ChannelClient | None = None) -> TrialOutcome:
    """Run the trial function with the trial's run as ``Run.get_context()``.

    ``client``: the connection its values go through (a trial host shares one across its trials);
    by default a new one, opened at the trial's first flush.
    """
    run = _TrialRun(
        spec.run_id,
        client or ChannelClient(spec.address, spec.authkey, run_id=spec.run_id),
        spec.primary_metric,
        spec.sync_primary,
        spec.params,
    )
    run.run_directory = spec.run_directory  # where upload_file and log_image put the run's files
    token = enter_trial(run, process_wide)
    outcome = TrialOutcome(spec.run_id, RunStatus.COMPLETED, pid=os.getpid(), started=time.time())
    try:
        assert spec.function is not None
        value = spec.function(**spec.params)
        if _is_number(value):
            # the driver logs it as the primary metric when the trial did not log that itself
            outcome.return_value = float(value)
        elif value is not None:
            outcome.return_value = repr(value)[:1000]
    except DriverLost as stop:
        outcome.status, outcome.stop_reason, outcome.kind = RunStatus.CANCELED, str(stop), OutcomeKind.DRIVER_LOST
    except TrialStopped as stop:
        outcome.status, outcome.stop_reason, outcome.kind = RunStatus.CANCELED, str(stop), OutcomeKind.STOPPED
    except BaseException as exc:  # the trial's own error: Failed with its traceback
        outcome.status, outcome.kind = RunStatus.FAILED, OutcomeKind.ERROR
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.traceback = traceback.format_exc()
    finally:
        try:
            run.close()
        except ConnectionError as exc:
            outcome.status, outcome.kind = RunStatus.FAILED, OutcomeKind.DRIVER_LOST
            outcome.error = f"could not deliver the trial's last values: {exc}"
        except TrialStoreError as exc:  # the driver could not commit them: the store says why
            outcome.status, outcome.kind = RunStatus.FAILED, OutcomeKind.ERROR
            outcome.error = f"could not deliver the trial's last values: {exc}"
        leave_trial(token, process_wide)
    outcome.primary_logged = run.primary_logged
    outcome.ended = time.time()
    return outcome


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, Real):
        return True
    return hasattr(value, "dtype") and getattr(value, "shape", None) == () and value.dtype.kind in "iuf"


def _run_inline(spec: TrialSpec, process_wide: bool) -> TrialOutcome:
    return _call_function(spec, process_wide)


#: Heavy, fork-safe packages a worker imports itself once a trial has used them, so that later
#: trials (forks of the worker) start with them loaded instead of importing them again each time.
WARM_PACKAGES = frozenset({"numpy", "scipy", "sklearn", "pandas", "torch", "xgboost", "lightgbm"})


def _warm_worker(modules: list[str]) -> None:
    """Import in this worker the public modules of :data:`WARM_PACKAGES` that a trial imported."""
    for name in modules:
        parts = name.split(".")
        if parts[0] not in WARM_PACKAGES or any(p.startswith("_") for p in parts) or name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # a module that only imports in some states: the trial imports it itself
            continue


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _poll_quiet(client: ChannelClient, run_id: str, info: dict[str, Any] | None) -> str | None:
    try:
        return _poll(client, run_id, info)
    except ConnectionError:
        return LOST_DRIVER


def _supervise(
    spec: TrialSpec,
    client: ChannelClient,
    is_done: Callable[[], bool],
    reap: Callable[[], int],
    signal_child: Callable[[int], None],
    cooperative: bool,
) -> tuple[int, str | None]:
    """Wait for the child, relaying stop requests; returns (wait status, stop reason)."""
    stop: str | None = None
    stop_at = 0.0
    sent_term = sent_kill = False
    next_poll = time.time() + POLL_SECONDS
    while not is_done():
        now = time.time()
        if stop is None and now >= next_poll:
            stop = _poll_quiet(client, spec.run_id, None)
            next_poll = now + POLL_SECONDS
            if stop:
                stop_at = now
        if stop:
            waited = now - stop_at
            if not sent_term and (not cooperative or waited >= spec.grace_seconds):
                signal_child(signal.SIGTERM)
                sent_term = True
            elif sent_term and not sent_kill and waited >= spec.grace_seconds + 1.0:
                signal_child(signal.SIGKILL)
                sent_kill = True
    status = reap()
    if stop is None:
        stop = _poll_quiet(client, spec.run_id, None) if _was_signalled(status) else None
    return status, stop


def _was_signalled(status: int) -> bool:
    return os.WIFSIGNALED(status) if status >= 0 else True


def _died(spec: TrialSpec, status: int, stop: str | None) -> TrialOutcome:
    """The outcome of a trial process that ended without reporting one."""
    if stop:
        return TrialOutcome(spec.run_id, RunStatus.CANCELED, stop_reason=stop, kind=_stop_kind(stop))
    return TrialOutcome(spec.run_id, RunStatus.FAILED, error=_describe_exit(status), kind=_exit_kind(status))


def _exit_kind(status: int) -> OutcomeKind:
    """``killed`` for a process a signal ended, else ``error``."""
    return OutcomeKind.KILLED if os.WIFSIGNALED(status) else OutcomeKind.ERROR


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = " (the out-of-memory killer sends this)" if sig == signal.SIGKILL else ""
        return f"the trial process was killed by {name}{hint}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"the trial process exited with code {code} before reporting a result"


# ---------------------------------------------------------------------------------------------
# script trials
# ---------------------------------------------------------------------------------------------
def _run_script(spec: TrialSpec, client: ChannelClient) -> TrialOutcome:
    assert spec.script_path is not None
    env = {**os.environ, **spec.environment}
    env.update({
        ENV_ADDRESS: f"{spec.address[0]}:{spec.address[1]}",
        ENV_KEY: spec.authkey.hex(),
        ENV_RUN_ID: spec.run_id,
        ENV_PRIMARY: spec.primary_metric,
        ENV_SYNC: "1" if spec.sync_primary else "0",
        "PYTHONUNBUFFERED": "1",
        # mlflow in the script logs into this trial (hdnotebook.mlflow_store), as in an Azure ML run
        "MLFLOW_TRACKING_URI": spec.environment.get("MLFLOW_TRACKING_URI", MLFLOW_TRACKING_URI),
    })
    if spec.gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(spec.gpus)
    script_path, cwd = spec.script_path, spec.source_directory
    started = time.time()
    if spec.run_directory is not None:  # its own copy of the snapshot, its own outputs/ and logs/
        try:
            cwd = run_files.prepare_working_directory(spec.source_directory, spec.run_directory)
        except OSError as exc:
            return TrialOutcome(spec.run_id, RunStatus.FAILED, error=f"could not make the run's working directory: {exc}")
        relative = os.path.relpath(spec.script_path, spec.source_directory or ".")
        if not relative.startswith(os.pardir):  # a script outside source_directory (the SDK v2 launcher) stays put
            script_path = os.path.join(cwd, relative)
        env[ENV_RUN_DIR] = spec.run_directory
    command = [sys.executable, script_path, *spec.arguments]
    with _output_file(spec.run_directory) as output:
        try:
            proc = subprocess.Popen(
                command, cwd=cwd or None, env=env, stdout=output,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as exc:
            return TrialOutcome(spec.run_id, RunStatus.FAILED, error=f"could not start {command}: {exc}",
                                kind=OutcomeKind.ERROR)
        _poll_quiet(client, spec.run_id, {"child_pid": proc.pid})

        def is_done() -> bool:
            try:
                proc.wait(POLL_SECONDS)
                return True
            except subprocess.TimeoutExpired:
                return False

        def signal_child(sig: int) -> None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

        _, stop = _supervise(spec, client, is_done, lambda: _wait_status(proc), signal_child, cooperative=False)
        signal_child(signal.SIGKILL)  # anything the script left behind in its group
        output.seek(0, os.SEEK_END)
        size = output.tell()
        output.seek(max(0, size - OUTPUT_TAIL))
        tail = output.read().decode("utf-8", "replace")
    code = proc.returncode
    if stop is None and code != 0:
        stop = _poll_quiet(client, spec.run_id, None)
    outcome = TrialOutcome(spec.run_id, RunStatus.COMPLETED, exit_code=code, output=tail, pid=proc.pid, started=started)
    if stop:
        outcome.status, outcome.stop_reason, outcome.kind = RunStatus.CANCELED, stop, _stop_kind(stop)
    elif code != 0:
        outcome.status = RunStatus.FAILED
        outcome.kind = OutcomeKind.KILLED if code < 0 else OutcomeKind.ERROR
        outcome.error = (
            _describe_exit(_status_from_returncode(code)) if code < 0 else f"the script exited with code {code}"
        )
        outcome.traceback = tail[-5000:]
    return outcome


def _output_file(run_directory: str | None) -> IO[bytes]:
    """Where a script's standard output and error go: the run's driver log, else a temporary file."""
    if run_directory is None:
        return tempfile.TemporaryFile()
    path = os.path.join(run_files.files_directory(run_directory), run_files.DRIVER_LOG)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return open(path, "w+b")


def _wait_status(proc: subprocess.Popen[bytes]) -> int:
    proc.wait()
    return _status_from_returncode(proc.returncode)


def _status_from_returncode(code: int) -> int:
    """A ``waitpid``-style status from a ``Popen.returncode`` (negative: killed by a signal)."""
    return -code if code < 0 else code << 8
