"""Row, table and image metrics: how they travel as text and come back in ``get_metrics``.

A trial logs numbers and text; ``log_row`` and ``log_table`` send one JSON text value each, marked
so the read side can put the columns back together in the shape the real ``get_metrics`` has:
``{"name": {"column": value}}`` for one row, ``{"name": {"column": [values]}}`` for several rows
or a table.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["encode_row", "encode_table", "decode_metrics", "first_error_line"]

ROW = "hdnotebook.row"
TABLE = "hdnotebook.table"


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def encode_row(columns: dict[str, Any]) -> str:
    """One row of a table metric as the text ``log_row`` sends."""
    return json.dumps({ROW: {k: _plain(v) for k, v in columns.items()}})


def encode_table(table: dict[str, Any]) -> str:
    """A whole table metric (column -> list of values) as the text ``log_table`` sends."""
    if not isinstance(table, dict):
        raise TypeError(f"log_table(name, value): value must be a dict of column -> list of values, got {table!r}")
    return json.dumps({TABLE: {k: _plain(v) if isinstance(_plain(v), list) else [_plain(v)] for k, v in table.items()}})


def _decoded(value: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, str) or not value.startswith('{"hdnotebook.'):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if isinstance(data, dict) and len(data) == 1:
        (kind, body), = data.items()
        if kind in (ROW, TABLE) and isinstance(body, dict):
            return kind, body
    return None


def _merge(values: list[Any]) -> Any:
    parts = [_decoded(v) for v in values]
    if not parts or any(p is None for p in parts):
        return values[0] if len(values) == 1 else values
    if len(parts) == 1 and parts[0][0] == ROW:  # type: ignore[index]
        return dict(parts[0][1])  # type: ignore[index]
    columns: dict[str, list[Any]] = {}
    for kind, body in parts:  # type: ignore[misc]
        for key, value in body.items():
            columns.setdefault(key, []).extend(value if kind == TABLE else [value])
    return columns


def decode_metrics(rows: list[tuple[str, Any]]) -> dict[str, Any]:
    """``name -> value`` (a list when logged more than once; tables and rows as column dicts)."""
    grouped: dict[str, list[Any]] = {}
    for name, value in rows:
        grouped.setdefault(name, []).append(value)
    return {name: _merge(values) for name, values in grouped.items()}


def first_error_line(details: dict[str, Any]) -> str:
    """The line that says what went wrong: the exception line of the traceback, else the error."""
    trace = details.get("traceback") or ""
    lines = [line.strip() for line in str(trace).splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head and " " not in head and (head.endswith(("Error", "Exception", "Exit", "Interrupt")) or head == "KeyError"):
            return line
    error = details.get("error")
    if error:
        return str(error).splitlines()[0]
    return lines[-1] if lines else "unknown error"
