"""What the REST API returns, as plain JSON-ready values read from a workspace's store.

Kept apart from the tornado handlers so it can be tested (and reused) without a server.
Everything here only reads, except :func:`request_cancel`, which writes the same
``cancel_requested`` event another kernel would: the experiment's driver picks it up.
"""

from __future__ import annotations

import math
from typing import Any

from .._vocab import TERMINAL_STATUSES, RunStatus, best_run, best_value, driver_alive
from .. import steering
from ..run_detail import run_detail
from ..store import MetricRow, RunRow, Store

__all__ = [
    "clean",
    "run_json",
    "metric_json",
    "parent_summary",
    "experiments_json",
    "run_tree",
    "changes_json",
    "parse_cursor",
    "format_cursor",
    "request_cancel",
    "MAX_METRICS",
]

#: the most metric rows one response carries; the cursor lets the client fetch the rest
MAX_METRICS = 20000

_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)


def clean(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def run_json(row: RunRow) -> dict[str, Any]:
    """One run (parent or child): id, status, times, parameters, details."""
    return clean(
        {
            "id": row.id,
            "experiment": row.experiment,
            "parent_id": row.parent_id,
            "number": row.number,
            "status": row.status,
            "created": row.created,
            "started": row.started,
            "ended": row.ended,
            "params": row.params,
            "details": row.details,
        }
    )


def metric_json(m: MetricRow) -> list[Any]:
    """``[id, run_id, name, step, value, time]`` (value ``None`` for NaN or text; text appended)."""
    value = m.value if (m.value is not None and math.isfinite(m.value)) else None
    row: list[Any] = [m.id, m.run_id, m.name, m.step, value, m.time]
    if m.text is not None:
        row.append(m.text)
    return row


#: the best run of experiments that have ended, by parent id (it cannot change any more)
_ENDED_BEST: dict[tuple[str, str], tuple[str | None, float | None]] = {}


def _best(store: Store, parent: RunRow) -> tuple[float | None, str | None]:
    """The experiment's best value and run, as its driver wrote them into the details (every
    heartbeat and at the end); computed here by the same rule (``best_run``) only for an
    experiment whose driver has not written them (stores from before, a driver's first seconds)."""
    d = parent.details
    name, goal = d.get("primary_metric_name"), d.get("goal", "maximize")
    if not name:
        return None, None
    if "best_run" in d:
        return d.get("best"), d.get("best_run")
    key = (store.path, parent.id)
    if key in _ENDED_BEST:
        run_id, value = _ENDED_BEST[key]
        return value, run_id
    children = store.child_runs(parent.id)
    values: dict[str, list[float]] = {c.id: [] for c in children}
    for m in store.metrics(list(values), name):
        if m.value is not None:
            values[m.run_id].append(m.value)
    run_id, value = best_run(((c.id, c.status, best_value(values[c.id], goal)) for c in children), goal)
    if parent.status in TERMINAL_STATUSES:
        _ENDED_BEST[key] = (run_id, value)
    return value, run_id


def parent_summary(store: Store, parent: RunRow) -> dict[str, Any]:
    """A parent run in one line: status, counts by status, progress, best primary metric."""
    counts = dict.fromkeys(_STATUSES, 0)
    for status, n in store._conn.execute(  # noqa: SLF001
        "SELECT status, COUNT(*) FROM runs WHERE parent_id=? GROUP BY status", (parent.id,)
    ):
        counts[status] = counts.get(status, 0) + n
    total = parent.details.get("max_total_runs") or 0
    done = sum(counts[s] for s in TERMINAL_STATUSES)
    if parent.status in TERMINAL_STATUSES:
        progress = 1.0
    else:
        progress = min(1.0, done / total) if total else 0.0
    best, best_run = _best(store, parent)
    out = run_json(parent)
    out.update(
        {
            "counts": counts,
            "children": sum(counts.values()),
            "max_total_runs": total or None,
            "progress": progress,
            "primary_metric_name": parent.details.get("primary_metric_name"),
            "goal": parent.details.get("goal"),
            "best": best,
            "best_run": best_run,
            "driver_alive": parent.status in TERMINAL_STATUSES or driver_alive(parent.details),
        }
    )
    return clean(out)


def experiments_json(store: Store) -> list[dict[str, Any]]:
    """Every experiment of a store with its runs' summaries (newest run first)."""
    out = []
    for name in store.experiments():
        runs = [parent_summary(store, p) for p in reversed(store.parent_runs(name))]
        out.append({"name": name, "runs": runs})
    return out


def run_tree(store: Store, run_id: str) -> dict[str, Any] | None:
    """A parent run (with summary) and its children, or a child run alone; ``None`` if unknown."""
    row = store.run(run_id)
    if row is None:
        return None
    if row.parent_id is not None:
        return {"run": run_json(row), "children": None}
    return {"run": parent_summary(store, row), "children": [run_json(c) for c in store.child_runs(row.id)]}


def parse_cursor(text: str | None) -> tuple[int, int]:
    """``"SEQ.METRIC"`` (as :func:`format_cursor` writes it) -> tuple; raises ``ValueError``."""
    if text in (None, "", "0"):
        return (0, 0)
    parts = str(text).split(".")
    if len(parts) != 2 or not all(p.isdigit() and len(p) < 19 for p in parts):
        raise ValueError(f"cursor must look like '12.345' (from a previous answer), got {text!r}")
    return int(parts[0]), int(parts[1])


def format_cursor(cursor: tuple[int, int]) -> str:
    return f"{cursor[0]}.{cursor[1]}"


def changes_json(store: Store, parent: RunRow, cursor: tuple[int, int], name: str | None = None) -> dict[str, Any]:
    """Runs changed and metrics added under ``parent`` since ``cursor`` (``store.changes``).

    ``name`` keeps only that metric. At most :data:`MAX_METRICS` metric rows are returned; then
    ``more`` is true and the returned cursor continues after the last row sent.
    """
    ch = store.changes(parent.id, cursor, name=name, limit=MAX_METRICS)  # filter and limit in SQL
    seq, last = ch.cursor
    more, metrics, runs = ch.more, ch.metrics, ch.runs
    summary = parent_summary(store, store.run(parent.id) or parent)
    return {
        "cursor": format_cursor((seq, last)),
        "more": more,
        "parent": summary,
        "runs": [run_json(r) for r in runs],
        "metrics": [metric_json(m) for m in metrics],
    }


def request_cancel(store: Store, row: RunRow, reason: str) -> dict[str, Any]:
    """Ask the driver of ``row``'s experiment to cancel it (a parent) or that one trial (a child)."""
    if row.status in TERMINAL_STATUSES:
        return {"requested": False, "status": row.status, "message": f"run {row.id} already ended ({row.status})"}
    store.add_event(row.id, "cancel_requested", {"reason": reason, "source": "jupyter-server"})
    store.flush()
    return {"requested": True, "status": row.status}


def request_steering(store: Store, parent: RunRow, action: str, args: dict[str, Any], source: str,
                     timeout: float = 3.0) -> tuple[int, dict[str, Any]]:
    """Relay a steering request to the driver of ``parent`` and wait for its answer (HTTP status, body).

    200 with the driver's answer when it applied the request, 400 when it rejected it (its reason),
    202 when no driver answered within ``timeout`` (the request stays stored), 409 when the
    experiment has ended.
    """
    if parent.status in TERMINAL_STATUSES:
        return 409, {"state": "rejected", "message": f"experiment run {parent.id} has ended ({parent.status})"}
    request_id = steering.send_request(store, parent.id, action, args, source=source)
    answer = steering.wait_answer(store, parent.id, request_id, timeout)
    code = {steering.AnswerState.APPLIED: 200, steering.AnswerState.REJECTED: 400}.get(answer.state, 202)
    return code, clean(answer.to_dict())


def steering_json(store: Store, parent: RunRow) -> dict[str, Any]:
    """The steering log of an experiment run and whether it is paused (for the sidebar)."""
    return clean({"paused": bool(parent.details.get("paused")), "requests": steering.steering_events(store, parent.id)})


def run_detail_json(store: Store, row: RunRow) -> dict[str, Any]:
    """One child run in full (every metric, output tail, error and traceback, links)."""
    return clean(run_detail(store, row.id))
