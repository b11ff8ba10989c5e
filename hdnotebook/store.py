"""The SQLite store: one file per workspace holding every experiment, run, metric and event.

Layout (WAL mode, so readers in other processes never block the writer; ``PRAGMA user_version``
is :data:`SCHEMA_VERSION`, and an older file is migrated when it is first opened for writing):

- ``experiments(name, created)``
- ``runs(id, experiment, parent_id, number, status, created, started, ended, params, details,
  seq)``: parents (the HyperDriveRun) have ``parent_id`` NULL; ``seq`` grows on every change so
  readers can ask "what changed since".
- ``metrics(id, run_id, name, step, value, text, time, kind)``: ``id`` is the arrival order, which
  is also the order the engine applied its policy in; ``kind`` says how ``value``/``text`` read
  back (see :func:`encode_value`).
- ``events(id, run_id, kind, payload, time)``
- ``blobs(run_id, name, data)``: pickled things an experiment needs to be resumed.

Durability contract (SPEC §11). Writes from the engine go through one :class:`StoreWriter` thread
per file that commits in batches. Each write gets a ticket; :meth:`Store.wait` returns once that
write is committed, and the engine acknowledges a trial's values only then, so a value a trial saw
acknowledged survives a kill of the notebook kernel. The writer's queue is bounded (callers that
queue metrics wait for room: back-pressure instead of memory), a bad row is refused alone (its run
gets a ``rejected`` event, the rest of the batch commits), and a storage fault (disk full,
read-only, I/O error) keeps everything queued and is retried until the cause is gone, while
:meth:`Store.flush` raises a :class:`StoreError` naming the cause, the file and what to do. A clean
interpreter exit drains every writer and closes every connection (checkpointing the WAL, so the
``.sqlite`` file alone holds everything). Readers open the file read-only (``mode=ro``): they never
create tables or change the journal mode.
"""

from __future__ import annotations

import atexit
import enum
import functools
import json
import math
import numbers
import os
import shutil
import sqlite3
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Store", "RunRow", "MetricRow", "Changes", "open_store", "StoreError", "ValueKind", "encode_value",
    "decode_value", "SCHEMA_VERSION", "metric_rows_json", "metric_rows_from_json",
]

#: ``PRAGMA user_version`` of a store this code writes. 0: a store from before versions (metrics
#: without ``kind``, NaN kept as the text "nan"); 1: ``kind`` added.
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    parent_id TEXT,
    number INTEGER,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    params TEXT NOT NULL DEFAULT '{}',
    details TEXT NOT NULL DEFAULT '{}',
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs(parent_id, number);
CREATE INDEX IF NOT EXISTS runs_by_seq ON runs(experiment, seq);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    text TEXT,
    time REAL NOT NULL,
    kind INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run_id);
CREATE TABLE IF NOT EXISTS blobs (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""


# ---------------------------------------------------------------------------------------------
# values: how a logged value is stored and read back (the one place for that rule)
# ---------------------------------------------------------------------------------------------
class ValueKind(enum.IntEnum):
    """What a metric row holds; stored in ``metrics.kind``."""

    NUMBER = 0  #: a float in ``value`` (finite or infinite)
    TEXT = 1  #: a string in ``text`` ("nan" stays the string "nan")
    NAN = 2  #: a float NaN (SQLite keeps no NaN: ``value`` is NULL in the file)
    NONE = 3  #: ``None``
    BOOL = 4  #: ``True``/``False``: ``value`` 1.0/0.0, read back as a bool
    INT = 5  #: an int: ``value`` its float (±inf past the float range), ``text`` the exact digits
    #: when the float is not exact


_EXACT_INT = 2**53


def encode_value(value: Any, name: str = "value") -> tuple[int, float | None, str | None]:
    """``(kind, value, text)`` for a logged value, or a ``TypeError`` naming what cannot be stored.

    Storable: ``bool`` and ``numpy.bool_``; ints of any size (``10**400`` too); floats incl. NaN and
    infinities; numpy scalars, 0-d arrays and 0-d tensors (anything with ``shape == ()`` and
    ``.item()``) of those; ``None``; ``str`` (valid Unicode). Lists and arrays go through
    ``run.log_list``; complex numbers and other objects are refused.

    >>> encode_value(0.5), encode_value(True), encode_value(None), encode_value("nan")
    ((0, 0.5, None), (4, 1.0, None), (3, None, None), (1, None, 'nan'))
    >>> decode_value(*encode_value(10**400)) == 10**400
    True
    """
    tp = type(value)
    if tp is float:
        return (ValueKind.NAN if value != value else ValueKind.NUMBER), value, None
    if tp is int:
        return _encode_int(value)
    if tp is bool:
        return ValueKind.BOOL, float(value), None
    if tp is str:
        _check_text(value, name)
        return ValueKind.TEXT, None, value
    if value is None:
        return ValueKind.NONE, None, None
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        item = value.item()  # numpy scalars, 0-d arrays, 0-d torch/jax tensors: their Python value
        if type(item) is not type(value):
            return encode_value(item, name)
    if isinstance(value, bool):
        return ValueKind.BOOL, float(value), None
    if isinstance(value, numbers.Integral):
        return _encode_int(int(value))
    if isinstance(value, numbers.Real):
        return encode_value(float(value), name)
    if isinstance(value, str):
        return encode_value(str(value), name)
    if isinstance(value, numbers.Complex):
        raise TypeError(_complex_message(value, name))
    if isinstance(value, (list, tuple)) or getattr(value, "shape", ()) != ():
        raise TypeError(
            f"run.log({name!r}, ...): got a {tp.__name__}, one value is expected; "
            f"log a sequence with run.log_list({name!r}, values)"
        )
    raise TypeError(
        f"run.log({name!r}, ...): cannot store a {tp.__module__}.{tp.__qualname__}; "
        "allowed: numbers (incl. numpy scalars), bool, None and str (log str(value) to keep its text)"
    )


def _encode_int(value: int) -> tuple[int, float | None, str | None]:
    if -_EXACT_INT <= value <= _EXACT_INT:
        return ValueKind.INT, float(value), None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    return ValueKind.INT, number, str(value)


def _complex_message(value: Any, name: str) -> str:
    return (
        f"run.log({name!r}, {value!r}): complex numbers cannot be stored; "
        f"log the parts, e.g. run.log({name + '_real'!r}, z.real) and run.log({name + '_imag'!r}, z.imag)"
    )


def _check_text(text: str, what: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            raise ValueError(
                f"{what}: {text!r} holds {bad!r} at {exc.start}, a lone surrogate (os.fsdecode makes "
                "these from bytes that are not UTF-8), which cannot be stored; clean it first, e.g. "
                "text.encode('utf-8', 'replace').decode('utf-8')"
            ) from None


def check_metric_name(name: Any) -> None:
    """Raise a ``TypeError``/``ValueError`` unless ``name`` can name a metric (a non-empty str)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"run.log(): name must be a non-empty string, got {name!r}")
    _check_text(name, "run.log(): the metric name")


def decode_value(kind: int, value: float | None, text: str | None) -> Any:
    """The value as it was logged, from a row's ``kind``, ``value`` and ``text``."""
    if kind == ValueKind.NUMBER:
        return math.nan if value is None else value
    if kind == ValueKind.INT:
        return int(text) if text is not None else int(value) if value is not None else None
    if kind == ValueKind.TEXT:
        return text
    if kind == ValueKind.NAN:
        return math.nan
    if kind == ValueKind.BOOL:
        return bool(value)
    return None


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------
@dataclass
class RunRow:
    """One row of ``runs``, with JSON columns decoded."""

    id: str
    experiment: str
    parent_id: str | None
    number: int | None
    status: str
    created: float
    started: float | None
    ended: float | None
    params: dict[str, Any]
    details: dict[str, Any]
    seq: int

    @classmethod
    def from_sql(cls, row: Sequence[Any]) -> RunRow:
        return cls(
            id=row[0],
            experiment=row[1],
            parent_id=row[2],
            number=row[3],
            status=row[4],
            created=row[5],
            started=row[6],
            ended=row[7],
            params=json.loads(row[8]),
            details=json.loads(row[9]),
            seq=row[10],
        )


@dataclass(frozen=True)
class MetricRow:
    """One logged value: ``value`` is its float for numbers (NaN included), ``text`` its text for
    strings; :attr:`logged` is the value as the trial logged it (see :func:`encode_value`)."""

    id: int
    run_id: str
    name: str
    step: int
    value: float | None
    text: str | None
    time: float
    kind: int = ValueKind.NUMBER
    exact: str | None = None  #: the digits of an int too large for a float

    @classmethod
    def from_sql(cls, row: Sequence[Any]) -> MetricRow:
        value, text, kind = row[4], row[5], row[7]
        if kind == ValueKind.TEXT:
            return cls(row[0], row[1], row[2], row[3], None, text, row[6], kind)
        if kind == ValueKind.NAN or (kind == ValueKind.NUMBER and value is None):
            return cls(row[0], row[1], row[2], row[3], math.nan, None, row[6], ValueKind.NAN)
        return cls(row[0], row[1], row[2], row[3], value, None, row[6], kind, text)

    @property
    def logged(self) -> Any:
        """The value as the trial logged it: a float, int, bool, ``None`` or str."""
        return decode_value(self.kind, self.value, self.exact if self.kind == ValueKind.INT else self.text)


@dataclass
class Changes:
    """What changed in an experiment since a cursor (see :meth:`Store.changes`)."""

    runs: list[RunRow] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    cursor: tuple[int, int] = (0, 0)
    #: whether metrics were cut at the limit (ask again from ``cursor`` for the rest)
    more: bool = False


_RUN_COLUMNS = "id, experiment, parent_id, number, status, created, started, ended, params, details, seq"
#: how a store without ``metrics.kind`` (schema 0) says the same
_LEGACY_KIND = "CASE WHEN value IS NULL AND text = 'nan' THEN 2 WHEN value IS NULL AND text IS NOT NULL THEN 1 ELSE 0 END"
_METRIC_INSERT = "INSERT INTO metrics(run_id, name, step, kind, value, text, time) VALUES (?,?,?,?,?,?,?)"


# ---------------------------------------------------------------------------------------------
# a trial's rows as one JSON text: inserted by SQLite itself
# ---------------------------------------------------------------------------------------------
def metric_rows_json(rows: Sequence[Sequence[Any]]) -> str | None:
    """A trial's rows ``(name, step, kind, value, text, time)`` as the JSON text
    :meth:`Store.add_run_metrics_json` takes, or ``None`` when it cannot carry them exactly (an
    infinity, a NUL character; NaN travels as ``null`` with kind NAN, as it is stored).

    >>> metric_rows_json([("loss", 0, 0, 0.5, None, 1.0)])
    '[["loss",0,0,0.5,null,1.0]]'
    >>> metric_rows_json([("loss", 1, 0, float("inf"), None, 1.0)]) is None
    True
    """
    try:
        text = _ROWS_TO_JSON(rows)
    except ValueError:
        return None
    return None if "\\u0000" in text else text  # SQLite ends a JSON string at a NUL character


_ROWS_TO_JSON = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def metric_rows_from_json(run_id: str, text: str) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The rows ``(run_id, name, step, kind, value, text, time)`` in a JSON text of a trial's rows,
    and the entries that are not such a row."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        return [], [text[:300]]
    if not isinstance(items, list):
        return [], [items]
    rows, bad = [], []
    for item in items:
        if isinstance(item, list) and len(item) == 6:
            rows.append((run_id, *item))
        else:
            bad.append(item)
    return rows, bad


@functools.lru_cache(maxsize=None)
def _json_insert_sql() -> str | None:
    """The statement that inserts a JSON text of rows in one step (SQLite parses it, without
    Python objects per row and without the GIL), or ``None`` when this SQLite cannot: no JSON
    functions, or a number parser that does not give back every double exactly (SQLite before
    3.43 parses with ``long double``, which some platforms lack); then the rows are decoded here.
    """
    arrow = sqlite3.sqlite_version_info >= (3, 38, 0)
    fields = ", ".join(f"value->>{i}" if arrow else f"json_extract(value, '$[{i}]')" for i in range(6))
    sql = f"INSERT INTO metrics(run_id, name, step, kind, value, text, time) SELECT ?, {fields} FROM json_each(?)"
    probe = [0.1, 1 / 3, 2 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 9007199254740993.0,
             0.30000000000000004, 1733343000.1234567, 123456789.12345679, -0.0, 1e22, 1e23, 8.98846567431158e307]
    try:
        conn = sqlite3.connect(":memory:")
        try:
            conn.execute("CREATE TABLE metrics(run_id, name, step, kind, value REAL, text, time REAL)")
            conn.execute(sql, ("r", json.dumps([["x", i, 0, v, None, v] for i, v in enumerate(probe)])))
            back = conn.execute("SELECT value, time, name, step FROM metrics ORDER BY rowid").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if back != [(v, v, "x", i) for i, v in enumerate(probe)]:
        return None
    return sql


def _insert_rows_json(conn: sqlite3.Connection, run_id: str, text: str) -> None:
    sql = _json_insert_sql()
    if sql is not None:
        conn.execute(sql, (run_id, text))
        return
    rows, bad = metric_rows_from_json(run_id, text)
    if bad:
        raise ValueError(f"not rows of metrics: {bad[0]!r:.200}")
    conn.executemany(_METRIC_INSERT, rows)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
class _Fault(enum.Enum):
    """Why the file cannot be written or read (from SQLite's primary result codes)."""

    FULL = 13
    READ_ONLY = 8
    IO = 10
    CORRUPT = 11
    NOT_A_DATABASE = 26
    CANNOT_OPEN = 14
    PERMISSION = 3
    BUSY = 5
    LOCKED = 6
    NO_MEMORY = 7
    OTHER = -1


_HINTS = {
    _Fault.FULL: "The disk holding it is full (or a file-size limit was reached): free space there. While this "
    "kernel lives the writer keeps every queued value and retries, so nothing is lost once there is room.",
    _Fault.READ_ONLY: "The file or its folder cannot be written here: make it writable, or copy the workspace "
    "to a writable folder. Reading works without writing (hdnotebook opens such a store read-only).",
    _Fault.PERMISSION: "Permission denied: make the file and its folder writable for this user, or copy the "
    "workspace elsewhere.",
    _Fault.CANNOT_OPEN: "It cannot be opened: check that the folder exists and can be written (SQLite also "
    "needs to create FILE-wal and FILE-shm next to it).",
    _Fault.IO: "The disk reported an I/O error (a full or removed disk, a network filesystem that went "
    "away): check the disk; the writer retries.",
    _Fault.CORRUPT: "The file is damaged: move it aside (sqlite3 FILE .recover may save its rows) and open "
    "the workspace again to start a fresh store.",
    _Fault.NOT_A_DATABASE: "It is not an SQLite file (damaged, encrypted, or another file with this name): "
    "move it aside and open the workspace again to start a fresh store.",
    _Fault.BUSY: "Another process held a lock on it for 30 s: close other kernels writing to this workspace.",
    _Fault.LOCKED: "Another connection held a lock on it for 30 s: close other kernels writing to this workspace.",
    _Fault.NO_MEMORY: "SQLite ran out of memory: free memory in this kernel.",
    _Fault.OTHER: "See the cause above.",
}

#: SQLite result codes that say "the file or the disk", not "this row": the writer keeps the
#: batch and retries those; any other error is the row's own and refuses that row alone
_STORAGE_FAULTS = frozenset(set(_Fault) - {_Fault.OTHER})


class StoreError(RuntimeError):
    """A store file cannot be written or read: the real cause, the file and what to do.

    Attributes: ``path``, ``fault`` (a :class:`_Fault` name such as ``"FULL"``), ``cause`` (the
    original exception).
    """

    def __init__(self, path: str, cause: BaseException | str, fault: _Fault = _Fault.OTHER) -> None:
        self.path, self.cause, self.fault = path, cause, fault.name
        text = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else cause
        hint = _HINTS[fault].replace("FILE", os.path.basename(path))
        super().__init__(f"hdnotebook store {path}: {text}. {hint}")


class _Refused(Exception):
    """A write of a batch was refused: the batch is applied again, each write on its own."""


class RowRejected(ValueError):
    """The store refused some rows of a write (its own data, not the file): nothing else failed."""


def _fault_of(exc: BaseException) -> _Fault | None:
    """The storage fault ``exc`` reports, or ``None`` when it is about the data being written."""
    if isinstance(exc, OSError):
        return _Fault.IO
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # Python 3.10: no result codes, go by the exception class
        if isinstance(exc, sqlite3.OperationalError):
            return _Fault.OTHER
        return _Fault.CORRUPT if type(exc) is sqlite3.DatabaseError else None  # "not a database", "malformed"
    try:
        fault = _Fault(code & 0xFF)
    except ValueError:
        return None
    return fault if fault in _STORAGE_FAULTS else None


def _store_error(path: str, exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    fault = _fault_of(exc) or _Fault.OTHER
    if fault is _Fault.IO and _out_of_room(path):
        fault = _Fault.FULL  # SQLite says "I/O error" for EFBIG, and for ENOSPC on some writes
    return StoreError(path, exc, fault)


def _out_of_room(path: str) -> bool:
    """Whether the disk holding ``path`` is (nearly) full, or its files reached RLIMIT_FSIZE."""
    try:
        if shutil.disk_usage(os.path.dirname(path)).free < 4 * 2**20:
            return True
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit == resource.RLIM_INFINITY:
            return False
        sizes = [os.path.getsize(p) for p in (path, path + "-wal", path + "-journal") if os.path.exists(p)]
        return any(size + 64 * 2**10 >= limit for size in sizes)
    except (OSError, ImportError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# connections and the schema
# ---------------------------------------------------------------------------------------------
def _open_writer(path: str) -> sqlite3.Connection:
    """A connection that writes: WAL, the schema at :data:`SCHEMA_VERSION` (migrating older files)."""
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _ensure_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                path, f"it was written by a newer hdnotebook (schema {version}; this one knows up to "
                f"{SCHEMA_VERSION}): upgrade hdnotebook to use it",
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "metrics" in tables:
            while version < SCHEMA_VERSION:
                _MIGRATIONS[version](conn)
                version += 1
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    """Schema 0 -> 1: ``metrics.kind``; NaN was the text "nan" and every other text was text."""
    conn.execute("ALTER TABLE metrics ADD COLUMN kind INTEGER NOT NULL DEFAULT 0")
    conn.execute(f"UPDATE metrics SET kind = {_LEGACY_KIND}")


#: schema version -> the step that brings a file at that version to the next one
_MIGRATIONS = {0: _migrate_0_to_1}


def _open_reader(path: str) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``): never creates tables nor changes the journal mode.

    On read-only media a WAL file whose ``-shm`` cannot be created opens as immutable (nobody can
    be writing it: a writer would need to create its ``-wal`` there too).
    """
    uri = Path(path).as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        fault = _fault_of(exc)
        writable_dir = os.access(os.path.dirname(path) or ".", os.W_OK)
        if fault not in (_Fault.CANNOT_OPEN, _Fault.READ_ONLY) or not os.path.exists(path) or (
            writable_dir and os.path.exists(path + "-wal")
        ):
            raise
    conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False, isolation_level=None)
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def _json(value: Any) -> str:
    return json.dumps(value, default=repr, allow_nan=True)


# ---------------------------------------------------------------------------------------------
# the writer
# ---------------------------------------------------------------------------------------------
@dataclass
class _Write:
    ticket: int
    op: str
    args: tuple[Any, ...]
    rows: int


class StoreWriter(threading.Thread):
    """The one thread that writes a store file for this process, in batched transactions.

    Writes are committed in the order they were queued, so a run's metrics are committed no later
    than a later status change of that run. Each :meth:`put` returns a ticket; :meth:`wait` blocks
    until that write is committed (or refused). Callers that queue many rows first call
    :meth:`wait_for_room`: at most :attr:`max_pending_rows` rows wait in memory.
    """

    #: rows committed in one transaction at most
    BATCH_ROWS = 50_000
    #: how long writes nobody waits for yet may wait for more to share their transaction (a
    #: commit costs the same for 1 row as for 100); :meth:`wait`, :meth:`wait_for_room`, a full
    #: queue and :meth:`stop` end it at once
    LINGER_SECONDS = 0.01
    #: the longest pause between two tries while the file cannot be written
    RETRY_SECONDS = 2.0

    def __init__(self, path: str, max_pending_rows: int = 100_000) -> None:
        super().__init__(name=f"hdnotebook-store-writer[{os.path.basename(path)}]", daemon=True)
        self.path = path
        self.max_pending_rows = max_pending_rows
        lock = threading.Lock()
        #: the writer waits on ``_work`` (writes queued, someone waiting, stop); callers on ``_cv``
        self._work = threading.Condition(lock)
        self._cv = threading.Condition(lock)
        self._queue: deque[_Write] = deque()
        self._next_ticket = 1
        self._done_through = 0  # every write with a ticket <= this is committed or refused
        self._wanted = 0  # the highest ticket someone waits for (the writer does not linger below it)
        self._pending_rows = 0
        self._refused: dict[int, RowRejected] = {}
        self._stopping = False
        self._stop_deadline = math.inf
        self._conn: sqlite3.Connection | None = None
        #: ``runs.seq`` as of this writer's last commit, and the connection's data_version then
        self._seq: int | None = None
        self._data_version = -1
        #: the storage fault the writer is retrying through, and since when
        self.fault: StoreError | None = None
        self.fault_since = 0.0
        #: writes given up at exit (the file stayed unwritable past the drain time)
        self.lost = 0

    # -- callers -----------------------------------------------------------------------------------
    def put(self, op: str, *args: Any, rows: int = 1) -> int:
        """Queue one write; returns its ticket for :meth:`wait`."""
        with self._cv:
            if self._stopping:
                raise StoreError(self.path, "the store was closed (the interpreter is exiting); nothing more is written")
            ticket = self._next_ticket
            self._next_ticket += 1
            if not self._queue:
                self._work.notify()  # the writer sleeps only while the queue is empty
            self._queue.append(_Write(ticket, op, args, rows))
            self._pending_rows += rows
            return ticket

    def _want(self, ticket: int) -> None:
        """Someone waits for ``ticket``: the writer commits it without lingering (lock held)."""
        if ticket > self._wanted:
            self._wanted = ticket
            self._work.notify()

    @property
    def last_ticket(self) -> int:
        return self._next_ticket - 1

    def wait_for_room(self, timeout: float | None = None) -> None:
        """Block while more than :attr:`max_pending_rows` rows wait (back-pressure)."""
        end = math.inf if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._pending_rows >= self.max_pending_rows and not self._stopping:
                self._want(self._next_ticket - 1)
                left = end - time.monotonic()
                if left <= 0:
                    raise self.fault or TimeoutError(f"the store writer for {self.path} is behind by {self._pending_rows} rows")
                self._cv.wait(min(left, 0.5))

    def wait(self, ticket: int, timeout: float = 60.0, fault_grace: float = 1.0) -> None:
        """Block until write ``ticket`` is committed.

        Raises :class:`RowRejected` when the store refused rows of that write, a
        :class:`StoreError` when the file has been unwritable for ``fault_grace`` seconds (the
        write stays queued and is committed once the cause is gone) and ``TimeoutError`` after
        ``timeout``.
        """
        end = time.monotonic() + timeout
        with self._cv:
            while self._done_through < ticket:
                self._want(ticket)
                if not self.is_alive() and not self._queue:
                    break
                if self.fault is not None and time.monotonic() - self.fault_since >= fault_grace:
                    raise self.fault
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the store writer for {self.path} did not commit within {timeout} s")
                self._cv.wait(min(left, 0.1))
            refused = self._refused.pop(ticket, None)
        if refused is not None:
            raise refused

    def stop(self, timeout: float) -> None:
        """Commit what is queued (for at most ``timeout`` s if the file stays unwritable), then close."""
        with self._cv:
            self._stopping = True
            self._stop_deadline = time.monotonic() + timeout
            self._work.notify_all()
            self._cv.notify_all()
        if self.is_alive():
            self.join(timeout + 5.0)

    # -- the thread --------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self._queue and not self._stopping:
                        self._work.wait()
                    if not self._queue:
                        return
                    self._linger()
                    batch: list[_Write] = []
                    rows = 0
                    while self._queue and rows < self.BATCH_ROWS:
                        write = self._queue.popleft()
                        batch.append(write)
                        rows += write.rows
                refused = self._commit(batch)
                with self._cv:
                    self._refused.update(refused)
                    self._done_through = batch[-1].ticket
                    self._pending_rows -= rows
                    self._cv.notify_all()
        finally:
            self._close_connection()
            with self._cv:
                self._cv.notify_all()

    def _linger(self) -> None:
        """Let writes nobody waits for gather for up to :attr:`LINGER_SECONDS` (lock held)."""
        end = time.monotonic() + self.LINGER_SECONDS
        while (
            self._wanted <= self._done_through
            and not self._stopping
            and self._pending_rows < min(self.max_pending_rows, self.BATCH_ROWS)
        ):
            left = end - time.monotonic()
            if left <= 0:
                return
            self._work.wait(left)

    def _commit(self, batch: list[_Write]) -> dict[int, RowRejected]:
        """Commit ``batch``, retrying through storage faults; the writes whose rows were refused."""
        delay = 0.05
        while True:
            try:
                if self._conn is None:
                    self._conn = _open_writer(self.path)
                refused = self._apply(self._conn, batch)
                if self.fault is not None:
                    self.fault = None
                return refused
            except BaseException as exc:
                fault = _fault_of(exc) if not isinstance(exc, StoreError) else _Fault.OTHER
                if fault is None:  # not the file: refuse the writes one by one (should not happen)
                    return {w.ticket: RowRejected(f"{type(exc).__name__}: {exc}") for w in batch}
                with self._cv:
                    if self.fault is None:
                        self.fault_since = time.monotonic()
                    self.fault = _store_error(self.path, exc)
                    self._cv.notify_all()
                self._close_connection()
                if self._stopping and time.monotonic() >= self._stop_deadline:
                    self.lost += sum(w.rows for w in batch)
                    print(f"hdnotebook: gave up {sum(w.rows for w in batch)} queued rows at exit: {self.fault}",
                          file=sys.stderr)
                    return {}
                with self._cv:
                    self._work.wait(delay)  # stop() and a waiter wake it sooner
                delay = min(delay * 2, self.RETRY_SECONDS)

    def _apply(self, conn: sqlite3.Connection, batch: list[_Write]) -> dict[int, RowRejected]:
        """One transaction for the batch; a write whose rows are refused is redone row by row.

        The batch is first applied as it is; only if a write is refused is the transaction rolled
        back and the batch applied again with a savepoint around each write (so the other writes
        commit, and the refused one alone is redone row by row).
        """
        try:
            return self._apply_once(conn, batch, isolated=False)
        except _Refused:
            return self._apply_once(conn, batch, isolated=True)

    def _apply_once(self, conn: sqlite3.Connection, batch: list[_Write], isolated: bool) -> dict[int, RowRejected]:
        refused: dict[int, RowRejected] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq = self._last_seq(conn)
            for ticket, op, args in _coalesce([(w.ticket, w.op, w.args) for w in batch]):
                if isolated:
                    conn.execute("SAVEPOINT write")
                try:
                    if op == "metrics":
                        conn.executemany(_METRIC_INSERT, args[0])
                    elif op == "metrics_json":
                        _insert_rows_json(conn, *args)
                    else:
                        seq += 1
                        _OPS[op](conn, seq, *args)
                    if isolated:
                        conn.execute("RELEASE write")
                except BaseException as exc:
                    if _fault_of(exc) is not None:
                        raise
                    if not isolated:
                        raise _Refused from exc
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                    refused[ticket] = self._refuse(conn, op, args, exc)
            conn.execute("COMMIT")
        except BaseException:
            self._seq = None
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._seq = seq
        return refused

    def _last_seq(self, conn: sqlite3.Connection) -> int:
        """The highest ``runs.seq`` (inside the write transaction): remembered from this writer's
        last commit unless another connection (another kernel, a claim, the server) committed
        since, which ``PRAGMA data_version`` tells; ``MAX(seq)`` reads every run, so it is read
        only then."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self._seq is None or version != self._data_version:
            self._seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM runs").fetchone()[0]
            self._data_version = version
        return self._seq

    def _refuse(self, conn: sqlite3.Connection, op: str, args: tuple[Any, ...], exc: BaseException) -> RowRejected:
        """Write what can be written of a refused write; record on its run why the rest was not."""
        bad: list[Any] = [args] if op not in ("metrics", "metrics_json") else []
        rows = args[0] if op == "metrics" else []
        if op == "metrics_json":
            rows, bad = metric_rows_from_json(*args)
        if rows:
            for row in rows:
                try:
                    conn.execute(_METRIC_INSERT, row)
                except BaseException as row_exc:
                    if _fault_of(row_exc) is not None:
                        raise
                    bad.append(row)
        run_id = args[0][0][0] if op == "metrics" and args[0] else args[0] if args and isinstance(args[0], str) else "?"
        run_id = _printable(run_id)
        message = (
            f"the store refused {len(bad)} {'row' if len(bad) == 1 else 'rows'} of {op} for run {run_id}: "
            f"{type(exc).__name__}: {_printable(str(exc))} (first: {_printable(repr(bad[0])[:300]) if bad else '-'})"
        )
        conn.execute(
            "INSERT INTO events(run_id, kind, payload, time) VALUES (?,?,?,?)",
            (run_id, "rejected", _json({"error": message, "rows": len(bad)}), time.time()),
        )
        return RowRejected(message)

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._seq = None  # data_version belongs to the connection
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _printable(text: Any) -> str:
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _coalesce(ops: list[tuple[int, str, tuple[Any, ...]]]) -> list[tuple[int, str, tuple[Any, ...]]]:
    """Fold each ``update_run`` of a run inserted earlier in the same batch into that insert.

    A short trial is often created and finished within one batch: one INSERT of its final row
    replaces an INSERT, a read of its details and an UPDATE. The batch is one transaction, so
    readers see the same rows either way. Items are ``(ticket, op, args)``.
    """
    inserted: dict[str, dict[str, Any]] = {}
    out: list[tuple[int, str, tuple[Any, ...]]] = []
    for ticket, op, args in ops:
        if op == "insert_run":
            row = {**args[0], "details": dict(args[0].get("details") or {})}
            inserted[row["id"]] = row
            out.append((ticket, op, (row,)))
        elif op == "update_run" and args[0] in inserted:
            row, fields = inserted[args[0]], dict(args[1])
            row["details"].update(fields.pop("details", None) or {})
            row.update(fields)
        else:
            out.append((ticket, op, args))
    return out


def _op_experiment(conn: sqlite3.Connection, seq: int, name: str, created: float) -> None:
    conn.execute("INSERT OR IGNORE INTO experiments(name, created) VALUES (?, ?)", (name, created))


def _op_insert_run(conn: sqlite3.Connection, seq: int, row: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT INTO runs({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            row["id"], row["experiment"], row.get("parent_id"), row.get("number"), row["status"],
            row["created"], row.get("started"), row.get("ended"), _json(row.get("params", {})),
            _json(row.get("details", {})), seq,
        ),
    )


def _op_update_run(conn: sqlite3.Connection, seq: int, run_id: str, fields: dict[str, Any]) -> None:
    fields = dict(fields)
    merge = fields.pop("details", None)
    if merge:
        current = conn.execute("SELECT details FROM runs WHERE id=?", (run_id,)).fetchone()
        details = json.loads(current[0]) if current else {}
        details.update(merge)
        fields["details"] = _json(details)
    if "params" in fields:
        fields["params"] = _json(fields["params"])
    fields["seq"] = seq
    sets = ", ".join(f"{k}=?" for k in fields)
    conn.execute(f"UPDATE runs SET {sets} WHERE id=?", (*fields.values(), run_id))


def _op_event(conn: sqlite3.Connection, seq: int, run_id: str, kind: str, payload: Any, t: float) -> None:
    conn.execute(
        "INSERT INTO events(run_id, kind, payload, time) VALUES (?,?,?,?)", (run_id, kind, _json(payload), t)
    )


def _op_blob(conn: sqlite3.Connection, seq: int, run_id: str, name: str, data: bytes) -> None:
    conn.execute("INSERT OR REPLACE INTO blobs(run_id, name, data) VALUES (?,?,?)", (run_id, name, data))


_OPS = {
    "experiment": _op_experiment,
    "insert_run": _op_insert_run,
    "update_run": _op_update_run,
    "event": _op_event,
    "blob": _op_blob,
}


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------
class Store:
    """A workspace's SQLite file: writes through one writer thread, reads on demand (read-only).

    Use :func:`open_store` to get the shared instance for a path in this process.
    ``read_only=True`` never writes the file (for read-only media or a server that only reads);
    its writes raise :class:`StoreError`.

    >>> store = open_store("/tmp/ws/hdnotebook.sqlite")         # doctest: +SKIP
    >>> ticket = store.add_metrics([("HD_1_0", "acc", 0, 0, 0.5, None, 1.0)])  # doctest: +SKIP
    >>> store.wait(ticket)   # returns once that row is committed        # doctest: +SKIP
    """

    def __init__(self, path: str, read_only: bool = False, max_pending_rows: int = 100_000) -> None:
        self.path = os.path.abspath(path)
        self.read_only = read_only
        self.max_pending_rows = max_pending_rows
        if not read_only:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                _open_writer(self.path).close()  # the schema exists before anyone reads
            except (sqlite3.Error, OSError) as exc:
                raise _store_error(self.path, exc) from exc
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._generation = 0
        self._metric_kind: str | None = None
        self._writer: StoreWriter | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        _LIVE_STORES.add(self)

    # -- writing ---------------------------------------------------------------------------------
    @property
    def writer(self) -> StoreWriter:
        with self._writer_lock:
            if self.read_only:
                raise StoreError(self.path, "this store was opened read-only", _Fault.READ_ONLY)
            if self._closed:
                raise StoreError(self.path, "the store was closed (the interpreter is exiting); nothing more is written")
            if self._writer is None or not self._writer.is_alive():
                self._writer = StoreWriter(self.path, self.max_pending_rows)
                self._writer.start()
                _WRITING_STORES.add(self)
            return self._writer

    def add_experiment(self, name: str) -> int:
        return self.writer.put("experiment", name, time.time())

    def insert_run(self, **row: Any) -> int:
        return self.writer.put("insert_run", row)

    def update_run(self, run_id: str, **fields: Any) -> int:
        """Update columns of a run; ``details=`` is merged into the stored details."""
        return self.writer.put("update_run", run_id, fields)

    def add_metrics(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Queue metric rows ``(run_id, name, step, kind, value, text, time)`` (see :func:`encode_value`).

        Returns the ticket to :meth:`wait` for. Call :meth:`wait_for_room` first when the rows
        come from outside (a trial): that is the back-pressure.
        """
        rows = rows if isinstance(rows, list) else list(rows)
        return self.writer.put("metrics", rows, rows=max(1, len(rows)))

    def add_run_metrics_json(self, run_id: str, rows_json: str) -> int:
        """Queue the metric rows of one run given as the JSON text :func:`metric_rows_json` makes
        of rows ``(name, step, kind, value, text, time)`` (what a trial sends); returns the ticket.

        SQLite inserts them from the text in one statement: no Python object per row, and the
        writer holds the GIL once per batch instead of once per row. A text that is not such rows
        is refused like a bad row (:class:`RowRejected` from :meth:`wait`).
        """
        rows = rows_json.count("],[") + 1  # what the bound on waiting rows counts (about)
        return self.writer.put("metrics_json", run_id, rows_json, rows=rows)

    def wait_for_room(self, timeout: float | None = None) -> None:
        """Block while the writer has too many rows waiting (see :class:`StoreWriter`)."""
        self.writer.wait_for_room(timeout)

    def add_event(self, run_id: str, kind: str, payload: Any = None) -> int:
        return self.writer.put("event", run_id, kind, payload or {}, time.time())

    def put_blob(self, run_id: str, name: str, data: bytes) -> int:
        return self.writer.put("blob", run_id, name, data)

    def wait(self, ticket: int, timeout: float = 60.0, fault_grace: float = 1.0) -> None:
        """Block until the write with ``ticket`` is committed (see :meth:`StoreWriter.wait`)."""
        writer = self._writer
        if writer is not None:
            writer.wait(ticket, timeout, fault_grace)

    def flush(self, timeout: float = 60.0, fault_grace: float = 1.0) -> None:
        """Wait until every write queued so far is committed (no-op when nothing was written).

        Raises :class:`StoreError` once the file has been unwritable for ``fault_grace`` seconds
        (the writes stay queued and are committed when the cause is gone).
        """
        writer = self._writer
        if writer is not None:
            try:
                writer.wait(writer.last_ticket, timeout, fault_grace)
            except RowRejected:
                pass  # refused rows are their writer's business: recorded on their run

    @property
    def fault(self) -> StoreError | None:
        """The storage fault the writer is retrying through right now, if any."""
        writer = self._writer
        return writer.fault if writer is not None else None

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, close every connection (checkpointing the WAL into the file).

        ``timeout``: how long to keep retrying when the file cannot be written.
        """
        with self._writer_lock:
            self._closed = True
            writer = self._writer
        with self._readers_lock:
            readers, self._readers = self._readers, []
            self._generation += 1
        for conn in readers:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        if writer is not None:
            writer.stop(timeout)

    def claim_run(
        self, run_id: str, key: str, expected: Any, details: dict[str, Any], status: str | None = None
    ) -> bool:
        """Compare-and-set: merge ``details`` into run ``run_id`` (and set ``status``) only if its
        ``details[key]`` is still ``expected``; whether it was. One transaction, so of two processes
        claiming the same run with the same ``expected``, exactly one wins.

        Queued writes are committed first.
        """
        self.flush()
        try:
            conn = _open_writer(self.path)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT details FROM runs WHERE id=?", (run_id,)).fetchone()
                current = json.loads(row[0]) if row else None
                if current is None or current.get(key) != expected:
                    conn.execute("ROLLBACK")
                    return False
                seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM runs").fetchone()[0] + 1
                current.update(details)
                conn.execute(
                    "UPDATE runs SET details=?, seq=?, status=COALESCE(?, status) WHERE id=?",
                    (_json(current), seq, status, run_id),
                )
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._generation:
            try:
                conn = _open_reader(self.path)
            except sqlite3.Error as exc:
                raise _store_error(self.path, exc) from exc
            with self._readers_lock:
                self._readers.append(conn)
                self._local.conn, self._local.generation = conn, self._generation
        return conn

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            fault = _fault_of(exc)
            if fault is None:
                raise
            raise StoreError(self.path, exc, fault) from exc

    @property
    def _kind_column(self) -> str:
        if self._metric_kind is None:
            columns = {r[1] for r in self._query("PRAGMA table_info(metrics)")}
            self._metric_kind = "kind" if "kind" in columns else _LEGACY_KIND
        return self._metric_kind

    def _metric_columns(self, prefix: str = "") -> str:
        kind = f"{prefix}kind" if self._kind_column == "kind" else self._kind_column  # legacy: unqualified
        return f"{prefix}id, {prefix}run_id, {prefix}name, {prefix}step, {prefix}value, {prefix}text, {prefix}time, {kind}"

    def schema_version(self) -> int:
        """``PRAGMA user_version`` of the file (0: written before versions)."""
        return self._query("PRAGMA user_version")[0][0]

    def experiments(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM experiments ORDER BY created")]

    def run(self, run_id: str) -> RunRow | None:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,))
        return RunRow.from_sql(rows[0]) if rows else None

    def parent_runs(self, experiment: str) -> list[RunRow]:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE experiment=? AND parent_id IS NULL ORDER BY created",
            (experiment,),
        )
        return [RunRow.from_sql(r) for r in rows]

    def child_runs(self, parent_id: str) -> list[RunRow]:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE parent_id=? ORDER BY number", (parent_id,))
        return [RunRow.from_sql(r) for r in rows]

    def metrics(
        self, run_ids: Sequence[str], name: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[MetricRow]:
        """Metric rows of ``run_ids`` (all names, or one) with ``id > after``, in arrival order
        (at most ``limit``)."""
        if not run_ids:
            return []
        marks = ",".join("?" * len(run_ids))
        sql = f"SELECT {self._metric_columns()} FROM metrics WHERE run_id IN ({marks}) AND id > ?"
        args: list[Any] = [*run_ids, after]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [MetricRow.from_sql(r) for r in self._query(sql, args)]

    def count_metrics(self, run_id: str) -> int:
        return self._query("SELECT COUNT(*) FROM metrics WHERE run_id=?", (run_id,))[0][0]

    def last_event_id(self) -> int:
        """The id of the newest committed event (0 when there is none)."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])

    def events(self, run_ids: Sequence[str]) -> list[tuple[int, str, str, dict[str, Any], float]]:
        marks = ",".join("?" * len(run_ids))
        rows = self._query(
            f"SELECT id, run_id, kind, payload, time FROM events WHERE run_id IN ({marks}) ORDER BY id",
            list(run_ids),
        )
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def blob(self, run_id: str, name: str) -> bytes | None:
        rows = self._query("SELECT data FROM blobs WHERE run_id=? AND name=?", (run_id, name))
        return bytes(rows[0][0]) if rows else None

    def changes(
        self, parent_id: str, cursor: tuple[int, int] = (0, 0), name: str | None = None, limit: int | None = None
    ) -> Changes:
        """Runs changed and metrics added under ``parent_id`` since ``cursor`` (``(0, 0)``: all).

        ``name``: only that metric; ``limit``: at most that many metric rows (then
        :attr:`Changes.more` is set). The returned :attr:`Changes.cursor` is what to pass next time.
        """
        seq0, metric0 = cursor
        conn = self._conn
        sql = (
            f"SELECT {self._metric_columns('m.')} FROM metrics m CROSS JOIN runs r ON r.id = m.run_id "
            "WHERE r.parent_id=? AND m.id>?"
        )
        args: list[Any] = [parent_id, metric0]
        if name is not None:
            sql += " AND m.name = ?"
            args.append(name)
        sql += " ORDER BY m.id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit) + 1)
        try:
            conn.execute("BEGIN")
            try:
                runs = [
                    RunRow.from_sql(r)
                    for r in conn.execute(
                        f"SELECT {_RUN_COLUMNS} FROM runs WHERE (parent_id=? OR id=?) AND seq>? ORDER BY seq",
                        (parent_id, parent_id, seq0),
                    )
                ]
                metrics = [MetricRow.from_sql(r) for r in conn.execute(sql, args)]
                newest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM metrics").fetchone()[0]
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            fault = _fault_of(exc)
            if fault is None:
                raise
            raise StoreError(self.path, exc, fault) from exc
        more = limit is not None and len(metrics) > limit
        if more:
            metrics = metrics[:limit]
        seq = max([seq0, *(r.seq for r in runs)])
        # all rows up to the newest were seen (filtered out or returned) unless cut at the limit
        last = metrics[-1].id if more else max(metric0, newest)
        return Changes(runs=runs, metrics=metrics, cursor=(seq, last), more=more)


_STORES: dict[tuple[str, bool], Store] = {}
_STORES_LOCK = threading.Lock()
#: every store of this process, and (held) those that have written: drained at exit
_LIVE_STORES: weakref.WeakSet[Store] = weakref.WeakSet()
_WRITING_STORES: set[Store] = set()


def open_store(path: str, read_only: bool = False) -> Store:
    """The process-wide :class:`Store` for ``path`` (one writer thread per file).

    A file that cannot be written here (read-only media, a read-only folder) opens read-only when
    ``read_only`` is not asked for: it can be read, and writing raises a :class:`StoreError`.
    """
    key = (os.path.abspath(path), read_only)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            try:
                store = Store(key[0], read_only=read_only)
            except StoreError as exc:
                if read_only or exc.fault not in (_Fault.READ_ONLY.name, _Fault.CANNOT_OPEN.name) or not os.path.exists(key[0]):
                    raise
                store = Store(key[0], read_only=True)
            _STORES[key] = store
        return store


def close_all(timeout: float = 10.0) -> None:
    """Drain and close every store of this process (run at interpreter exit)."""
    with _STORES_LOCK:
        stores = [s for s in {*_LIVE_STORES, *_WRITING_STORES} if s._pid == os.getpid()]
        _WRITING_STORES.clear()
        _STORES.clear()
    for store in stores:
        try:
            store.close(timeout)
        except Exception as exc:  # noqa: BLE001 - at exit: say it, never raise
            print(f"hdnotebook: could not close the store {store.path}: {exc}", file=sys.stderr)


atexit.register(close_all)
