"""One run in full, for an expanded row: every metric it logged, its output, its error, its links.

Read from the store (and, while a script trial runs, the tail of its output log in the run's
folder), so the widget's model, :class:`~hdnotebook.experiment_run.StoredRun` and the server's
REST API give the same answer::

    >>> detail = run_detail(store, "HD_3f2a..._7")          # doctest: +SKIP
    >>> detail["metrics"]["loss"], detail["output"][-200:]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from typing import Any

from . import run_files
from .store import RunRow, Store

__all__ = ["run_detail", "output_tail", "OUTPUT_TAIL_CHARS"]

#: how much of a run's output a detail carries (its end: where errors are)
OUTPUT_TAIL_CHARS = 8000

#: details that link runs to each other (restarts, retries, resumes, enqueued by hand)
_LINKS = ("restart_of", "restarted_as", "rerun_of", "superseded_by", "resumed_from", "enqueued")


def _plain(value: Any) -> Any:
    """A logged value as JSON carries it (NaN and infinities as their text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def output_tail(store: Store, row: RunRow, chars: int = OUTPUT_TAIL_CHARS) -> str:
    """The end of what the run printed (stdout and stderr together).

    A finished trial keeps it in its details; a script trial still running writes it to
    ``<workspace>/runs/<run id>/files/azureml-logs/70_driver_log.txt``, read here as it grows.
    """
    text = row.details.get("output")
    if isinstance(text, str):
        return text[-chars:]
    workspace = os.path.dirname(store.path)
    path = os.path.join(run_files.files_directory(run_files.run_directory(workspace, row.id)), run_files.DRIVER_LOG)
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4 * chars))
            return fh.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return ""


def run_detail(store: Store, run_id: str, chars: int = OUTPUT_TAIL_CHARS) -> dict[str, Any]:
    """Everything about one child run, JSON-ready.

    Keys: ``id``, ``number``, ``status``, ``params``, ``params_text`` (a Python dict literal to
    copy), ``metrics`` (name -> every value in logging order, text values too), ``output`` (its
    tail), ``error``, ``traceback``, ``stop_reason``, ``started``, ``ended`` and ``links``
    (``restart_of``, ``restarted_as``, ``rerun_of``, ``superseded_by``, ``enqueued``, ... where set).

    Raises:
        LookupError: no such run in ``store``.
    """
    row = store.run(run_id)
    if row is None:
        raise LookupError(f"no run {run_id!r} in the store {store.path}")
    metrics: dict[str, list[Any]] = {}
    for m in store.metrics([run_id]):
        metrics.setdefault(m.name, []).append(_plain(m.logged))
    stop = row.details.get("stop")
    return {
        "id": row.id,
        "number": row.number,
        "status": row.status,
        "params": {k: _plain(v) for k, v in row.params.items()},
        "params_text": repr(dict(row.params)),
        "metrics": metrics,
        "output": output_tail(store, row, chars),
        "error": row.details.get("error"),
        "traceback": row.details.get("traceback"),
        "stop_reason": (stop.get("reason") if isinstance(stop, dict) else stop) or None,
        "started": row.started,
        "ended": row.ended,
        "links": {k: row.details[k] for k in _LINKS if row.details.get(k)},
    }
