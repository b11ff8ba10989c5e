"""The one view model of an experiment run: store changes in, table rows, series and small messages out.

Every view of a run draws from it: the RunDetails widget (the kernel keeps one per widget), the
JupyterLab sidebar's experiment tab and the plain ``/hdnotebook`` page (the server extension keeps
one per workspace and run and serves its messages at ``GET .../runs/RUN/view?seq=N``). So the three
draw the same rows, best values, axes and numbers.

Browser-free and light (it imports only the store side: the Jupyter server loads it):
:class:`RunDetailsModel` reads :meth:`Store.changes` from a cursor and keeps what the views show
(one row per trial, every numeric metric's values per trial, a header).
It speaks two messages, both JSON-ready dicts:

- ``snapshot`` -- everything (``meta``, ``header``, every row, every series), what a new view
  starts from (the widget carries it in a synced trait, so no request has to reach a busy kernel);
- ``update`` -- only what changed since the last poll: the header, the rows that changed and the
  metric values that arrived, as ``[run_id, metric, first_step, [values...]]`` chunks (and
  ``meta`` in the rare case the parent's configuration details changed).

Both carry ``seq``: a snapshot includes every update up to its ``seq``, and updates are numbered
one by one after it, so a view knows whether an update follows what it has (``seq`` one more), is
already in it (``seq`` not more) or comes after a gap (then it waits for a newer snapshot).

:func:`apply_message` is the reducer the front end runs (``js/src/state.js`` mirrors it), so a
snapshot taken later equals an earlier snapshot with every update applied after it::

    >>> model = RunDetailsModel(store, parent_id)     # doctest: +SKIP
    >>> state = apply_message({}, model.snapshot())   # doctest: +SKIP
    >>> msg = model.poll()                            # None when nothing changed  # doctest: +SKIP

Compute saved by early stopping (header ``saved_fraction``) is an estimate: every run stopped early
would otherwise have run as many intervals as the longest run so far; the saving is those intervals
not run, over the intervals run plus those not run. A run a policy stopped at an interval at least
as long as the longest run's is not counted as stopped early (header ``stopped_early``).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from typing import Any

from collections.abc import Callable

from ._format import json_value
from ._vocab import TERMINAL_STATUSES, RunStatus, best_run, best_value
from .run_detail import run_detail
from .steering import steering_events
from .store import Changes, MetricRow, RunRow, Store

__all__ = ["RunDetailsModel", "apply_message", "curves", "json_number", "linear_axes", "IMPORTANCE_ELSEWHERE"]

#: what the importance view says where no importance function was given (the Jupyter server: the
#: random forest behind it needs scikit-learn and the search space's scipy side, kept out of it)
IMPORTANCE_ELSEWHERE = ("hyperparameter importance is computed in the kernel: "
                        "RunDetails(run).show() or hyperdrive_run.get_param_importances()")


def json_number(value: Any) -> float | None:
    """``value`` as a float JSON can carry: NaN and infinities become ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def linear_axes(space: dict[str, str]) -> list[dict[str, Any]]:
    """A plain linear axis per hyperparameter of ``space`` (name -> expression repr): what a view
    draws for a run whose details carry no ``axes`` (stores written before submit recorded them).

    >>> linear_axes({"lr": "loguniform(-6, -1)"})[0]["log"]
    False
    """
    return [{"name": name, "expr": text, "kind": None, "log": False, "categorical": False, "values": None}
            for name, text in space.items()]


class RunDetailsModel:
    """What every view shows of one experiment run, fed by :meth:`Store.changes`.

    Args:
        store: the workspace's store.
        parent_id: the experiment (parent) run's id.
        importances: called (with no argument) for the hyperparameter importances over the
            Completed runs, when their number changed; raises ``ValueError`` or ``ImportError``
            when it cannot say (the message is shown). ``None``: the views say where to find them
            (:data:`IMPORTANCE_ELSEWHERE`). The kernel passes
            :meth:`HyperDriveRun.get_param_importances`; the Jupyter server passes nothing.
        contour: called as ``contour(space, params, values, names)`` (``space`` the parent's stored
            name -> expression repr) for the primary metric over the two hyperparameters ``names``
            (:func:`hdnotebook.insight.param_contour`'s grid); raises ``ValueError`` when it cannot.
            ``None``: no contour (the Jupyter server; scipy stays out of it).
        axes_for: how to draw each hyperparameter of the parent's ``space`` (name -> expression
            repr) when its details carry no ``axes`` (older stores); default :func:`linear_axes`.

    Thread-safe: :meth:`poll` and :meth:`snapshot` may be called from different threads.
    """

    def __init__(
        self,
        store: Store,
        parent_id: str,
        *,
        importances: Callable[[], dict[str, float]] | None = None,
        contour: Callable[[dict[str, str], list[dict[str, Any]], list[Any], list[str]], dict[str, Any] | None] | None = None,
        axes_for: Callable[[dict[str, str]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.store = store
        self.parent_id = parent_id
        self._importance_of = importances
        self._contour_of = contour
        self._axes_for = axes_for or linear_axes
        self.cursor: tuple[int, int] = (0, 0)
        self.parent: RunRow | None = None
        self.rows: dict[str, dict[str, Any]] = {}
        self.series: dict[str, dict[str, list[float | None]]] = {}
        self._order: list[str] = []
        self._lock = threading.RLock()
        self._meta: dict[str, Any] | None = None
        #: hyperparameter importance over the Completed runs, recomputed when their number changes
        self._importance: tuple[int, dict[str, Any]] = (-1, {})
        self._contour_cache: tuple[Any, dict[str, Any] | None] = (None, None)
        self.seq = 0  # the number of the last update message made (a snapshot includes up to it)
        self.poll()  # load what is there

    # -- reading the store -----------------------------------------------------------------------
    @property
    def primary(self) -> str:
        return (self.parent.details.get("primary_metric_name") if self.parent else None) or ""

    @property
    def goal(self) -> str:
        return (self.parent.details.get("goal") if self.parent else None) or "maximize"

    @property
    def terminal(self) -> bool:
        """The experiment has ended (no more changes are expected)."""
        return self.parent is not None and self.parent.status in TERMINAL_STATUSES

    def poll(self) -> dict[str, Any] | None:
        """Read what changed since the last poll; the ``update`` message for it, or ``None``."""
        with self._lock:
            changes = self.store.changes(self.parent_id, self.cursor)
            if not changes.runs and not changes.metrics:
                self.cursor = changes.cursor
                return None
            return self._apply(changes)

    def _apply(self, changes: Changes) -> dict[str, Any]:
        changed: set[str] = set()
        added = False
        old_meta, old_primary = self._meta, self.primary
        self._meta = None  # the steering log may have grown (requests change no row of their own)
        for row in changes.runs:
            if row.id == self.parent_id:
                self.parent = row
                self._meta = None
                if self.primary != old_primary:  # the parent arrived after its children
                    changed.update(self._order)
                continue
            if row.id not in self.rows:
                self._order.append(row.id)
                self.series.setdefault(row.id, {})
                added = True
            self.rows[row.id] = self._row(row)
            changed.add(row.id)
        if added:  # runs in the order of their numbers, however their changes came
            self._order.sort(key=lambda run_id: _run_order(self.rows[run_id]))
        chunks: dict[tuple[str, str], int] = {}
        for m in changes.metrics:
            if self._add_point(m):
                key = (m.run_id, m.name)
                chunks[key] = min(chunks.get(key, m.step), m.step)
                changed.add(m.run_id)
        primary = self.primary
        for run_id in changed:
            if run_id in self.rows:
                self._refresh_values(self.rows[run_id], self.series.get(run_id, {}).get(primary, []))
        self.cursor = changes.cursor
        points = [
            [run_id, name, start, list(self.series[run_id][name][start:])]
            for (run_id, name), start in sorted(chunks.items(), key=lambda kv: (self._index(kv[0][0]), kv[0][1]))
        ]
        meta, header = self.meta(), self.header()  # before seq moves: a view never misses a number
        self.seq += 1
        msg: dict[str, Any] = {"type": "update", "seq": self.seq}
        if meta != old_meta:  # the parent appeared, or its config details changed
            msg["meta"] = copy.deepcopy(meta)
        return {
            **msg,
            "header": header,
            "runs": [copy.deepcopy(self.rows[r]) for r in self._order if r in changed],
            "points": points,
        }

    def _index(self, run_id: str) -> int:
        try:
            return self._order.index(run_id)
        except ValueError:
            return len(self._order)

    def _add_point(self, m: MetricRow) -> bool:
        if m.text is not None:  # a non-numeric value: shown nowhere in the charts
            return False
        runs = self.series.setdefault(m.run_id, {})
        values = runs.setdefault(m.name, [])
        if m.step >= len(values):
            values.extend([None] * (m.step + 1 - len(values)))
        values[m.step] = json_number(m.value)
        if m.time and m.run_id in self.rows and m.name == self.primary:
            self.rows[m.run_id]["t_last"] = m.time
        return True

    def _row(self, row: RunRow) -> dict[str, Any]:
        old = self.rows.get(row.id, {})
        stop = row.details.get("stop")
        stop_reason = (stop.get("reason") if isinstance(stop, dict) else stop) or None
        policy = stop.get("policy") if isinstance(stop, dict) else None
        return {
            "id": row.id,
            "number": row.number,
            "status": row.status,
            "params": {k: json_value(v) for k, v in row.params.items()},
            "created": row.created,
            "started": row.started,
            "ended": row.ended,
            "stop_reason": stop_reason,
            "stopped_early": bool(policy) and row.status == RunStatus.CANCELED,
            "error": row.details.get("error"),
            "gpus": row.details.get("gpus"),
            "lane": row.details.get("lane"),
            "best": old.get("best"),
            "last": old.get("last"),
            "intervals": old.get("intervals", 0),
            "t_last": old.get("t_last"),
        }

    def _refresh_values(self, row: dict[str, Any], values: list[float | None]) -> None:
        row["intervals"] = len(values)
        row["last"] = values[-1] if values else None
        row["best"] = best_value(values, self.goal)

    # -- what the views get ----------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        """What rarely changes while the experiment runs: names, goal, space, policy, the limits
        in force, whether it is paused and the steering log (requests and the driver's answers)."""
        if self._meta is None:
            d = self.parent.details if self.parent else {}
            self._meta = {
                "parent_id": self.parent_id,
                "experiment": self.parent.experiment if self.parent else "",
                "primary": d.get("primary_metric_name", ""),
                "goal": d.get("goal", "maximize"),
                "max_total_runs": d.get("max_total_runs"),
                "max_concurrent_runs": d.get("max_concurrent_runs"),
                "max_duration_minutes": d.get("max_duration_minutes"),
                "paused": bool(d.get("paused")),
                "steering": steering_events(self.store, self.parent_id),
                "policy": d.get("policy"),
                "sampling": d.get("sampling"),
                "axes": self._axes(d),
                "contour": self._contour(),
            }
        return self._meta

    def _axes(self, details: dict[str, Any]) -> list[dict[str, Any]]:
        """The parent's ``axes`` (recorded at submit: log for log expressions, the options of a
        ``choice``), else what ``axes_for`` makes of its ``space``."""
        axes = details.get("axes")
        if isinstance(axes, list) and all(isinstance(a, dict) and "name" in a for a in axes):
            return axes
        return self._axes_for(details.get("space") or {})

    def header(self) -> dict[str, Any]:
        """Status, progress, best run, early stopping and compute saved, warning."""
        p = self.parent
        d = p.details if p else {}
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        best_id, best = best_run(((run_id, self.rows[run_id]["status"], self.rows[run_id]["best"]) for run_id in self._order), self.goal)
        longest = max((r["intervals"] for r in self.rows.values()), default=0)
        # a run stopped at an interval no shorter than the longest run's lost nothing we know of:
        # not counted as stopped early (the replay's stopped_early says the same)
        stopped = [r for r in self.rows.values() if r["stopped_early"] and r["intervals"] < longest]
        saved = sum(max(longest - r["intervals"], 0) for r in stopped)
        ran = sum(r["intervals"] for r in self.rows.values())
        return {
            "status": p.status if p else "Unknown",
            "started": p.started if p else None,
            "ended": p.ended if p else None,
            "now": time.time(),
            "runs": len(self._order),
            "total": d.get("max_total_runs"),
            "finished": sum(n for s, n in counts.items() if s in TERMINAL_STATUSES),
            "counts": counts,
            "best": best,
            "best_run": best_id,
            "stopped_early": len(stopped),
            "longest": longest,
            "saved_intervals": saved,
            "saved_fraction": (saved / (ran + saved)) if saved else 0.0,
            "warning": d.get("warning"),
            "error": d.get("error"),
            "importance": self._importances(counts.get(RunStatus.COMPLETED, 0)),
        }

    def _importances(self, completed: int) -> dict[str, Any]:
        """``{"values": {name: share} | None, "runs": n, "note": why not}`` from the ``importances``
        function, redone only when the number of Completed runs changed."""
        if self._importance[0] == completed or self.parent is None:
            return self._importance[1]
        out: dict[str, Any] = {"values": None, "runs": completed, "note": ""}
        if self._importance_of is None:
            out["note"] = IMPORTANCE_ELSEWHERE
        else:
            try:
                out["values"] = self._importance_of()
            except (ValueError, ImportError) as exc:
                out["note"] = str(exc)
        self._importance = (completed, out)
        return out

    def _contour(self) -> dict[str, Any] | None:
        """The primary metric over the two most important hyperparameters (else the space's first
        two), from the ``contour`` function over the Completed runs' best values (as
        :meth:`HyperDriveRun.get_param_contour`); ``None`` with fewer than 3 of them or without a
        ``contour`` function. Redone only when those runs or the ranking change; it rides in
        ``meta``, sent only when it changed, with ``trials`` the number of runs (the points are
        the Completed rows: ~13 KB for a 24 x 24 grid at any number of runs)."""
        if self._contour_of is None:
            return None
        done = [self.rows[r] for r in self._order if self.rows[r]["status"] == RunStatus.COMPLETED]
        ranked = (self._importances(len(done)).get("values") or {}) if self.parent is not None else {}
        stored = (self.parent.details.get("space") or {}) if self.parent else {}
        names = [n for n in ranked if n in stored][:2] or list(stored)[:2]
        key = (tuple(names), tuple((r["id"], r["best"]) for r in done))
        if self._contour_cache[0] != key:
            try:
                grid = self._contour_of(stored, [r["params"] for r in done], [r["best"] for r in done], names)
                if grid is not None:  # the points are the rows' (the view has them); the answer is not ours to change
                    grid = {**grid, "trials": len(grid["trials"])}
            except ValueError:  # fewer than 3 Completed runs, or an expression that cannot be read back
                grid = None
            self._contour_cache = (key, grid)
        return self._contour_cache[1]

    def refresh_insight(self) -> dict[str, Any]:
        """Ask the importance and contour functions again (their answers changed without a change
        in the store: the server's come from a job in the background); the ``update`` message that
        carries the new header (and ``meta``, when the contour changed)."""
        with self._lock:
            old_meta = self._meta
            self._importance = (-1, {})
            self._contour_cache = (None, None)
            self._meta = None
            meta, header = self.meta(), self.header()
            self.seq += 1
            msg: dict[str, Any] = {"type": "update", "seq": self.seq, "header": header, "runs": [], "points": []}
            if meta != old_meta:
                msg["meta"] = copy.deepcopy(meta)
            return msg

    def completed(self) -> int:
        """How many runs Completed (what the importances and the contour are computed over)."""
        with self._lock:
            return sum(1 for r in self.rows.values() if r["status"] == RunStatus.COMPLETED)

    def run_detail(self, run_id: str) -> dict[str, Any]:
        """What an expanded row shows of one run of this experiment (read when asked, not kept):
        every metric it logged, parameters, output tail, error and traceback, stop reason, links.

        Raises ``LookupError`` for a run that is not one of this experiment's.
        """
        row = self.store.run(run_id)
        if row is None or row.parent_id != self.parent_id:
            raise LookupError(f"{run_id!r} is not a run of experiment run {self.parent_id}")
        return run_detail(self.store, run_id)

    def snapshot(self) -> dict[str, Any]:
        """Everything a new view needs, as one ``snapshot`` message."""
        with self._lock:
            points = [
                [run_id, name, 0, list(values)]
                for run_id in self._order
                for name, values in self.series.get(run_id, {}).items()
            ]
            return {
                "type": "snapshot",
                "seq": self.seq,
                "meta": copy.deepcopy(self.meta()),
                "header": self.header(),
                "runs": [copy.deepcopy(self.rows[r]) for r in self._order],
                "points": points,
            }

    def state(self) -> dict[str, Any]:
        """The view state (what :func:`apply_message` builds from :meth:`snapshot`)."""
        return apply_message({}, self.snapshot())


def _run_order(row: dict[str, Any]) -> tuple[float, str]:
    """Where a run goes in the views' order: by its number (then id), as ``js/src/state.js`` sorts."""
    number = row.get("number")
    return (number if isinstance(number, (int, float)) else math.inf, row["id"])


def apply_message(state: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    """Apply a ``snapshot`` or ``update`` to a view state (the front end does the same in JS).

    The state is ``{"meta", "header", "order": [ids], "runs": {id: row}, "series": {id: {metric:
    [values]}}}``; a snapshot replaces it, an update merges into it; ``order`` follows the runs'
    numbers. Returns the state.
    """
    if msg.get("type") == "snapshot":
        state.clear()
        state.update(meta=msg["meta"], header=None, order=[], runs={}, series={})
    elif msg.get("type") != "update":
        return state
    if msg.get("meta") is not None:
        state["meta"] = msg["meta"]
    state.setdefault("order", [])
    state.setdefault("runs", {})
    state.setdefault("series", {})
    if msg.get("header") is not None:
        state["header"] = msg["header"]
    added = False
    for row in msg.get("runs", []):
        if row["id"] not in state["runs"]:
            state["order"].append(row["id"])
            added = True
        state["runs"][row["id"]] = row
    if added:
        state["order"].sort(key=lambda run_id: _run_order(state["runs"][run_id]))
    for run_id, name, start, values in msg.get("points", []):
        series = state["series"].setdefault(run_id, {}).setdefault(name, [])
        if len(series) < start + len(values):
            series.extend([None] * (start + len(values) - len(series)))
        series[start:start + len(values)] = values
    return state


def curves(state: dict[str, Any], metric: str | None = None) -> list[dict[str, Any]]:
    """The learning-curve traces of a view state: one ``{"id", "x", "y"}`` per run that logged
    ``metric`` (default: the primary metric), ``x`` the intervals 1..n, in run order.

    The front end draws the same lines (``js/src/charts.js``); the static HTML draws these.
    """
    name = metric or state["meta"]["primary"]
    out = []
    for run_id in state["order"]:
        values = state["series"].get(run_id, {}).get(name)
        if values:
            out.append({"id": run_id, "x": list(range(1, len(values) + 1)), "y": list(values)})
    return out
