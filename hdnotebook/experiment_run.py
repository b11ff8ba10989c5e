"""The parent side of runs: :class:`HyperDriveRun` and the child runs it reads from the store.

A ``HyperDriveRun`` reads everything from the store (status, children, metrics, the best run), so
one found again after a kernel restart (``experiment.get_runs()``) works like the live one. What it
cannot read (waiting on, cancelling and resuming a live experiment) it asks of a
:class:`RunController` that whoever created it passes in (the workspace passes the engine's
driver), so this module imports nothing above the store.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from ._format import format_number
from ._vocab import TERMINAL_STATUSES, RunStatus, best_run, best_value, metric_key
from .run import Run, _collect
from .run_detail import OUTPUT_TAIL_CHARS, output_tail, run_detail
from .config import check_limits
from .space import check_configuration, expression_from_repr
from .steering import AnswerState, SteerAction, SteerAnswer, send_request, steering_events, wait_answer
from .store import MetricRow, RunRow, Store

__all__ = ["HyperDriveRun", "StoredRun", "RunController", "Resumer", "new_parent_id"]


class RunController(Protocol):
    """What a parent run asks of the engine that runs it (the live experiment's driver)."""

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until the experiment ends or ``timeout`` seconds pass; whether it ended."""

    def cancel(self, reason: str = ...) -> None:
        """Stop the experiment: no new trials; running ones are stopped."""

    def cancel_run(self, run_id: str, reason: str = ...) -> None:
        """Stop one trial."""


#: ``resumer(store, run_id, config=..., **submit_options)``: continue a stored run, return it live
Resumer = Callable[..., "HyperDriveRun"]

#: a keyword left out of ``set_limits`` (``None`` means "no limit" there)
_UNSET: Any = object()

def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


class StoredRun(Run):
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

    def get_output(self, chars: int = OUTPUT_TAIL_CHARS) -> str:
        """The last ``chars`` characters the trial printed (stdout and stderr), also while it runs."""
        return output_tail(self._store, self._fresh(), chars)

    def get_detail(self) -> dict[str, Any]:
        """Everything about this run for an expanded view: every metric it logged (all of them, in
        logging order), its parameters (``params_text`` to copy as a dict), its output tail, its error
        with traceback, why it stopped and the runs it is linked to (see
        :func:`hdnotebook.run_detail.run_detail`)::

            detail = best_run.get_detail()
            detail["metrics"]["loss"], detail["traceback"], detail["links"]
        """
        self._store.flush()
        return run_detail(self._store, self.id)


class HyperDriveRun(Run):
    """The parent run of an experiment: its trials, their best, and control (SPEC §6, §9).

    Returned by ``experiment.submit(config)`` (live) or found again by ``experiment.get_runs()``.
    """

    def __init__(
        self, store: Store, run_id: str, controller: RunController | None = None, resumer: Resumer | None = None
    ) -> None:
        super().__init__(run_id)
        self._store = store
        self._controller = controller
        self._resumer = resumer

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
    def get_children(self) -> list[StoredRun]:
        """Every trial run, in creation order."""
        self._store.flush()
        return [StoredRun(self._store, r.id, r) for r in self._store.child_runs(self.id)]

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

    def get_best_run_by_primary_metric(self) -> StoredRun | None:
        """The child with the best primary metric, or ``None`` when no child logged it.

        A run's value is the best one it logged, by the goal (NaN counts as worst); runs that
        Completed or were Canceled (stopped early) count, Failed runs do not.
        """
        best = self._best_child()
        return best[0] if best is not None else None

    def _best_child(self) -> tuple[StoredRun, float] | None:
        """This run's own best child and its value by :func:`~hdnotebook._vocab.best_run` (the
        engine's rule, whatever a subclass's ``get_best_run_by_primary_metric`` adds)."""
        goal = self.goal
        values = self.primary_values()
        children = {child.id: child for child in self.get_children()}
        run_id, value = best_run(((c.id, c.get_status(), best_value(values.get(c.id, []), goal)) for c in children.values()), goal)
        return (children[run_id], value) if run_id is not None and value is not None else None

    def metric_events(self) -> list[MetricRow]:
        """Every primary-metric row of the children in the order the engine received them."""
        self._store.flush()
        children = self._store.child_runs(self.id)
        return self._store.metrics([c.id for c in children], self.primary_metric_name)

    # -- control ---------------------------------------------------------------------------------
    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = False, poll_seconds: float = 0.5) -> dict[str, Any]:
        """Block until the experiment ends; returns :meth:`get_details`.

        With ``show_output=True`` it prints a text progress line per change, then a table of the
        runs and, when the experiment failed, its error and traceback. Interrupting the
        waiting cell (Ctrl-C, the stop button) stops the waiting, not the experiment.
        """
        if not self._wait_until_ended(show_output, poll_seconds):
            return self.get_details()
        details = self.get_details()
        if show_output:
            print(self.summary_table(), flush=True)
            if details["status"] == RunStatus.FAILED and details["properties"].get("error"):
                print(_failure_text(self.id, details["properties"]), flush=True)
        if raise_on_error and details["status"] == RunStatus.FAILED:
            raise RuntimeError(f"experiment run {self.id} failed: {details['properties'].get('error')}")
        return details

    def _wait_until_ended(
        self, show_output: bool, poll_seconds: float, on_poll: Callable[[], None] | None = None
    ) -> bool:
        """Wait until the experiment has ended, printing a progress line per change when asked.

        ``on_poll`` runs before each look (when ``show_output``). Returns ``False`` when the waiting
        cell was interrupted (Ctrl-C, the stop button): that stops the waiting, not the experiment.
        """
        last = ""
        try:
            while True:
                status = self.get_status()
                if show_output:
                    if on_poll is not None:
                        on_poll()
                    line = self.progress_line()
                    if line != last:
                        print(line, flush=True)
                        last = line
                if status in TERMINAL_STATUSES:
                    return True
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
            return False

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

    # -- steering a running experiment (hdnotebook.steering) --------------------------------------
    def pause(self, timeout: float = 5.0) -> SteerAnswer:
        """Start no new runs until :meth:`resume_trials`; running runs finish.

        Works from any kernel (and the widget, and the server's REST API): the request goes into the
        store and the running driver applies it within a second, answering there too. Returns that
        answer (``answer.message`` says what was done); it is ``pending`` when no driver answered
        within ``timeout`` seconds (no kernel runs the experiment now: it applies on ``resume()``)::

            hyperdrive_run.pause()          # "paused: no new runs start; 4 running finish"
            hyperdrive_run.resume_trials()  # "resumed: up to 4 runs at once"

        The time paused counts toward ``max_duration_minutes``. A paused experiment stays paused
        through a kernel restart and ``resume()``.
        """
        return self._steer(SteerAction.PAUSE, {}, timeout)

    def resume_trials(self, timeout: float = 5.0) -> SteerAnswer:
        """Start new runs again after :meth:`pause` (``resume()`` is for continuing after a restart)."""
        return self._steer(SteerAction.RESUME, {}, timeout)

    def set_limits(self, *, max_total_runs: int = _UNSET, max_concurrent_runs: int | None = _UNSET,
                   max_duration_minutes: float | None = _UNSET, timeout: float = 5.0) -> SteerAnswer:
        """Change the running experiment's limits; the rules are :class:`HyperDriveConfig`'s.

        ``max_total_runs`` below the runs already created starts no more; ``max_concurrent_runs``
        lower lets runs finish and starts fewer (``None``: as many as the machine allows);
        ``max_duration_minutes`` counts from the start (``None``: no limit; one already passed
        ends the experiment as the limit does)::

            hyperdrive_run.set_limits(max_total_runs=60, max_concurrent_runs=2)

        Raises ``ValueError``/``TypeError`` naming the limit, what was given and what is allowed.
        """
        given = {"max_total_runs": max_total_runs, "max_concurrent_runs": max_concurrent_runs,
                 "max_duration_minutes": max_duration_minutes}
        changes = check_limits({name: value for name, value in given.items() if value is not _UNSET})
        return self._steer(SteerAction.SET_LIMITS, changes, timeout)

    def enqueue(self, params: dict[str, Any] | None = None, timeout: float = 5.0, **values: Any) -> SteerAnswer:
        """Run this configuration next, before new samples (Optuna's ``enqueue_trial``).

        It is checked against the search space (every parameter, values the space can produce),
        counts toward ``max_total_runs``, and the sampler learns from its result like any run::

            hyperdrive_run.enqueue({"learning_rate": 0.01, "batch_size": 32})
            hyperdrive_run.enqueue(learning_rate=0.01, batch_size=32)
            # a variation of the best run
            best = hyperdrive_run.get_best_run_by_primary_metric()
            hyperdrive_run.enqueue({**best.get_parameters(), "batch_size": 64})

        ``result["run_id"]`` of the answer is the new run's id.
        """
        config = {**(params or {}), **values}
        check_configuration(self._space(), config)
        return self._steer(SteerAction.ENQUEUE, {"params": config}, timeout)

    def restart_child(self, run_id: str, timeout: float = 5.0) -> SteerAnswer:
        """A new run with the parameters of child ``run_id``, run next; a running one is stopped first.

        The new run's details hold ``restart_of`` and the old run's ``restarted_as``; both count
        (the old one keeps what it logged). ``result["run_id"]`` of the answer is the new run's id.
        """
        row = self._store.run(run_id) if isinstance(run_id, str) else None
        if row is None or row.parent_id != self.id:
            raise ValueError(f"restart_child: run_id must be a child run of {self.id}, got {run_id!r}")
        return self._steer(SteerAction.RESTART, {"run_id": run_id}, timeout)

    @property
    def paused(self) -> bool:
        """Whether the experiment is paused (no new runs start)."""
        return bool(self._row().details.get("paused"))

    def get_steering_log(self) -> list[dict[str, Any]]:
        """Every steering request made to this experiment with the driver's answer, in order."""
        self._store.flush()
        return steering_events(self._store, self.id)

    def _space(self) -> dict[str, Any]:
        return {n: expression_from_repr(t) for n, t in (self._row().details.get("space") or {}).items()}

    def _steer(self, action: SteerAction, args: dict[str, Any], timeout: float) -> SteerAnswer:
        status = self.get_status()
        if status in TERMINAL_STATUSES:
            raise RuntimeError(
                f"experiment run {self.id} has ended ({status}); {action} applies to a running experiment "
                "(hyperdrive_run.resume() continues this one)"
            )
        request_id = send_request(self._store, self.id, action, args)
        poke = getattr(self._controller, "poke", None)
        if poke is not None:
            poke()
        answer = wait_answer(self._store, self.id, request_id, timeout)
        if answer.state == AnswerState.REJECTED:
            raise ValueError(f"{action}: {answer.message}")
        return answer

    def resume(self, config: Any = None, **submit_options: Any) -> HyperDriveRun:
        """Continue this experiment run after a kernel restart, a crash or a cancel (same run id).

        Finished trials count toward the budget and are what the sampler and the policy start
        from; trials that were running are run again as new runs with the same parameters.
        ``config``: the ``HyperDriveConfig`` to go on with (default: the one stored at submit);
        ``submit_options``: ``backend``, ``n_jobs``, ``channel_host`` as for ``submit``. Returns the
        live run; this object follows it too.
        """
        if self._resumer is None:
            raise RuntimeError(
                f"experiment run {self.id} was opened without its workspace and cannot be resumed from "
                "here; use Experiment(workspace, name).resume(run_id) or a run from experiment.get_runs()"
            )
        live = self._resumer(self._store, self.id, config=config, **submit_options)
        self._controller = live._controller
        return live

    def replay(self, policy: Any) -> Any:
        """What-if: which runs ``policy`` would have stopped in this experiment, and what it saves.

        Replays the primary-metric values in the order the engine received them (the order a live
        policy sees), with each finished run's end placed by its end time (from then on it counts
        with what it had, SPEC §4), so a replay of the policy that ran agrees with what happened.
        """
        from .policy.replay import RunEnded, replay_policy

        self._store.flush()
        children = self._store.child_runs(self.id)
        ends = sorted((c.ended, c.id) for c in children if c.ended)
        # runs a live policy stopped: how long they would have run is not in the store
        truncated = {c.id for c in children if c.status == RunStatus.CANCELED and isinstance(c.details.get("stop"), dict)
                     and c.details["stop"].get("policy")}
        events: list[Any] = []
        for m in self.metric_events():
            while ends and ends[0][0] < m.time:
                events.append(RunEnded(ends.pop(0)[1]))
            if m.value is not None:
                events.append((m.run_id, m.value))
        return replay_policy(policy, events, self.goal, truncated=truncated)

    # -- analysis --------------------------------------------------------------------------------
    def to_dataframe(self) -> Any:
        """One row per run, as a pandas ``DataFrame`` (pandas is imported only here).

        Columns: ``run_id``, ``number``, ``status``, ``params_<name>`` per hyperparameter,
        ``best_value`` and ``last_value`` of the primary metric, ``intervals`` (primary values
        logged), ``duration_s``, ``stop_reason`` and ``error``::

            df = hyperdrive_run.to_dataframe()
            df.sort_values("best_value", ascending=False).head()
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas comes with the test extra
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from exc
        goal = self.goal
        values = self.primary_values()
        names = list(self._row().details.get("space") or {})
        records = []
        for row in self._store.child_runs(self.id):
            logged = values.get(row.id, [])
            stop = row.details.get("stop")
            record: dict[str, Any] = {"run_id": row.id, "number": row.number, "status": row.status}
            record.update({f"params_{n}": row.params.get(n) for n in names or row.params})
            record.update(
                best_value=best_value(logged, goal),
                last_value=logged[-1] if logged else None,
                intervals=len(logged),
                duration_s=(row.ended - row.started) if row.started and row.ended else None,
                stop_reason=stop.get("reason") if isinstance(stop, dict) else stop,
                error=row.details.get("error"),
            )
            records.append(record)
        return pd.DataFrame.from_records(records)

    def get_param_importances(self, seed: int = 0) -> dict[str, float]:
        """How much each hyperparameter matters to the primary metric, most important first.

        Computed from the runs that Completed (a run stopped early has only a partial value), as
        the share of the metric's variance each parameter's main effect explains; the shares sum
        to 1 (see :func:`hdnotebook.insight.param_importances`). Needs scikit-learn.
        """
        from .insight import param_importances

        space = {n: expression_from_repr(t) for n, t in (self._row().details.get("space") or {}).items()}
        values = self.primary_values()
        done = [r for r in self._store.child_runs(self.id) if r.status == RunStatus.COMPLETED]
        return param_importances(
            space, [r.params for r in done], [best_value(values.get(r.id, []), self.goal) for r in done], seed=seed
        )

    def get_param_contour(self, params: list[str] | None = None, size: int | None = None) -> dict[str, Any]:
        """The primary metric over two hyperparameters, interpolated onto a grid (what the widget's
        contour draws), from the runs that Completed, each at its best value.

        Args:
            params: the two hyperparameters ``[x, y]``; default: the two most important
                (:meth:`get_param_importances`; without scikit-learn, the first two of the space).
            size: grid points along a numeric axis (default
                :data:`hdnotebook.insight.CONTOUR_SIZE`).

        Returns the grid of :func:`hdnotebook.insight.param_contour`: ``{"x", "y", "z", "zmin",
        "zmax", "trials"}``. Raises ``ValueError`` with fewer than 3 Completed runs or a space of
        fewer than two hyperparameters.
        """
        from .insight import CONTOUR_SIZE, param_contour

        space = {n: expression_from_repr(t) for n, t in (self._row().details.get("space") or {}).items()}
        if params is None:
            try:
                params = list(self.get_param_importances())[:2]
            except (ImportError, ValueError):
                params = list(space)[:2]
        values = self.primary_values()
        done = [r for r in self._store.child_runs(self.id) if r.status == RunStatus.COMPLETED]
        return param_contour(space, [r.params for r in done], [best_value(values.get(r.id, []), self.goal) for r in done],
                             params, size=size or CONTOUR_SIZE)

    # -- text views ------------------------------------------------------------------------------
    def progress_line(self) -> str:
        children = self._store.child_runs(self.id)
        row = self._row()
        counts: dict[str, int] = {}
        for c in children:
            counts[c.status] = counts.get(c.status, 0) + 1
        total = row.details.get("max_total_runs", "?")
        best = self._best_child()
        best_text = ""
        if best is not None:
            best_text = f" | best {self.primary_metric_name}={format_number(best[1])} ({best[0].id})"
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
                format_number(value), str(len(values.get(row.id, []))),
                *(_short(row.params.get(n)) for n in names),
            ])
        widths = [max(len(str(r[i])) for r in lines) for i in range(len(header))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self.progress_line()}</pre>"


def _failure_text(run_id: str, properties: dict[str, Any]) -> str:
    """Why an experiment run failed: the error, where it came from and its traceback."""
    text = f"experiment run {run_id} failed: {properties['error']}"
    if properties.get("traceback"):
        text += "\n" + str(properties["traceback"]).rstrip()
    return text


def _short(value: Any) -> str:
    return format_number(value) if isinstance(value, float) else str(value)


def new_parent_id() -> str:
    return f"HD_{uuid.uuid4().hex[:12]}"


