"""The SQLite store: one file per workspace holding every experiment, run, metric and event.

Layout (WAL mode, so readers in other processes never block the writer):

- ``experiments(name, created)``
- ``runs(id, experiment, parent_id, number, status, created, started, ended, params, details,
  seq)``: parents (the HyperDriveRun) have ``parent_id`` NULL; ``seq`` grows on every change so
  readers can ask "what changed since".
- ``metrics(id, run_id, name, step, value, text, time)``: ``id`` is the arrival order, which is
  also the order the engine applied its policy in.
- ``events(id, run_id, kind, payload, time)``
- ``blobs(run_id, name, data)``: pickled things an experiment needs to be resumed.

Writes from the engine go through one :class:`StoreWriter` thread per file that commits in small
batches; everything else reads with its own connection.
"""

from __future__ import annotations

import json
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Store", "RunRow", "MetricRow", "Changes", "open_store"]

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
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    text TEXT,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, name, step);
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
    """One logged value: ``value`` for numbers, ``text`` for anything else."""

    id: int
    run_id: str
    name: str
    step: int
    value: float | None
    text: str | None
    time: float

    @classmethod
    def from_sql(cls, row: Sequence[Any]) -> MetricRow:
        value, text = row[4], row[5]
        if value is None and text == "nan":  # SQLite has no NaN: it is kept as text
            value, text = math.nan, None
        return cls(row[0], row[1], row[2], row[3], value, text, row[6])

    @property
    def logged(self) -> Any:
        """The value as the trial logged it (a float, or the text of a non-numeric value)."""
        return self.value if self.text is None else self.text


@dataclass
class Changes:
    """What changed in an experiment since a cursor (see :meth:`Store.changes`)."""

    runs: list[RunRow] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    cursor: tuple[int, int] = (0, 0)


_RUN_COLUMNS = "id, experiment, parent_id, number, status, created, started, ended, params, details, seq"


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _json(value: Any) -> str:
    return json.dumps(value, default=repr, allow_nan=True)


class StoreWriter(threading.Thread):
    """The one thread that writes a store file for this process, in small batched transactions.

    Operations are applied in the order they were queued, so a run's metrics are always committed
    before a later status change of that run. :meth:`flush` waits until all queued work is durable.
    """

    def __init__(self, path: str) -> None:
        super().__init__(name=f"hdnotebook-store-writer[{os.path.basename(path)}]", daemon=True)
        self._path = path
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | threading.Event] = queue.SimpleQueue()
        self.error: BaseException | None = None

    def put(self, op: str, *args: Any) -> None:
        self._queue.put((op, args))

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything queued before this call is committed."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise TimeoutError(f"the store writer for {self._path} did not flush in {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"the store writer for {self._path} failed: {self.error!r}")

    def run(self) -> None:
        conn = _connect(self._path)
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            waiters = [b for b in batch if isinstance(b, threading.Event)]
            ops = [b for b in batch if not isinstance(b, threading.Event)]
            if ops:
                try:
                    self._apply(conn, ops)  # type: ignore[arg-type]
                except BaseException as exc:  # keep the writer alive; report on flush
                    self.error = exc
            for w in waiters:
                w.set()

    def _apply(self, conn: sqlite3.Connection, ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        ops = _coalesce(ops)
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM runs").fetchone()[0]
            metrics: list[tuple[Any, ...]] = []
            for op, args in ops:
                if op == "metrics":
                    metrics.extend(args[0])
                    continue
                if metrics:
                    conn.executemany(
                        "INSERT INTO metrics(run_id, name, step, value, text, time) VALUES (?,?,?,?,?,?)",
                        metrics,
                    )
                    metrics = []
                seq += 1
                _OPS[op](conn, seq, *args)
            if metrics:
                conn.executemany(
                    "INSERT INTO metrics(run_id, name, step, value, text, time) VALUES (?,?,?,?,?,?)",
                    metrics,
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _coalesce(ops: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """Fold each ``update_run`` of a run inserted earlier in the same batch into that insert.

    A short trial is often created and finished within one batch: one INSERT of its final row
    replaces an INSERT, a read of its details and an UPDATE. The batch is one transaction, so
    readers see the same rows either way.
    """
    inserted: dict[str, dict[str, Any]] = {}
    out: list[tuple[str, tuple[Any, ...]]] = []
    for op, args in ops:
        if op == "insert_run":
            row = {**args[0], "details": dict(args[0].get("details") or {})}
            inserted[row["id"]] = row
            out.append((op, (row,)))
        elif op == "update_run" and args[0] in inserted:
            row, fields = inserted[args[0]], dict(args[1])
            row["details"].update(fields.pop("details", None) or {})
            row.update(fields)
        else:
            out.append((op, args))
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


class Store:
    """A workspace's SQLite file: writes through one writer thread, reads on demand.

    Use :func:`open_store` to get the shared instance for a path in this process.
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        conn = _connect(self.path)
        conn.executescript(SCHEMA)
        conn.close()
        self._local = threading.local()
        self._writer: StoreWriter | None = None
        self._writer_lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------------------
    @property
    def writer(self) -> StoreWriter:
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = StoreWriter(self.path)
                self._writer.start()
            return self._writer

    def add_experiment(self, name: str) -> None:
        self.writer.put("experiment", name, time.time())

    def insert_run(self, **row: Any) -> None:
        self.writer.put("insert_run", row)

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Update columns of a run; ``details=`` is merged into the stored details."""
        self.writer.put("update_run", run_id, fields)

    def add_metrics(self, rows: Iterable[tuple[str, str, int, float | None, str | None, float]]) -> None:
        """Queue metric rows ``(run_id, name, step, value, text, time)``."""
        self.writer.put("metrics", list(rows))

    def add_event(self, run_id: str, kind: str, payload: Any = None) -> None:
        self.writer.put("event", run_id, kind, payload or {}, time.time())

    def put_blob(self, run_id: str, name: str, data: bytes) -> None:
        self.writer.put("blob", run_id, name, data)

    def claim_run(
        self, run_id: str, key: str, expected: Any, details: dict[str, Any], status: str | None = None
    ) -> bool:
        """Compare-and-set: merge ``details`` into run ``run_id`` (and set ``status``) only if its
        ``details[key]`` is still ``expected``; whether it was. One transaction, so of two processes
        claiming the same run with the same ``expected``, exactly one wins.

        Queued writes are committed first.
        """
        self.flush()
        conn = _connect(self.path)
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

    def flush(self) -> None:
        """Wait until every queued write is committed (no-op when nothing was written)."""
        if self._writer is not None:
            self._writer.flush()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
        return conn

    def experiments(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM experiments ORDER BY created")]

    def run(self, run_id: str) -> RunRow | None:
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        return RunRow.from_sql(row) if row else None

    def parent_runs(self, experiment: str) -> list[RunRow]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE experiment=? AND parent_id IS NULL ORDER BY created",
            (experiment,),
        )
        return [RunRow.from_sql(r) for r in rows]

    def child_runs(self, parent_id: str) -> list[RunRow]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE parent_id=? ORDER BY number", (parent_id,)
        )
        return [RunRow.from_sql(r) for r in rows]

    def metrics(self, run_ids: Sequence[str], name: str | None = None, after: int = 0) -> list[MetricRow]:
        """Metric rows of ``run_ids`` (all names, or one) with ``id > after``, in arrival order."""
        if not run_ids:
            return []
        marks = ",".join("?" * len(run_ids))
        sql = f"SELECT id, run_id, name, step, value, text, time FROM metrics WHERE run_id IN ({marks}) AND id > ?"
        args: list[Any] = [*run_ids, after]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        return [MetricRow.from_sql(r) for r in self._conn.execute(sql + " ORDER BY id", args)]

    def count_metrics(self, run_id: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id=?", (run_id,)).fetchone()[0]

    def events(self, run_ids: Sequence[str]) -> list[tuple[int, str, str, dict[str, Any], float]]:
        marks = ",".join("?" * len(run_ids))
        rows = self._conn.execute(
            f"SELECT id, run_id, kind, payload, time FROM events WHERE run_id IN ({marks}) ORDER BY id",
            list(run_ids),
        )
        return [(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def blob(self, run_id: str, name: str) -> bytes | None:
        row = self._conn.execute("SELECT data FROM blobs WHERE run_id=? AND name=?", (run_id, name)).fetchone()
        return bytes(row[0]) if row else None

    def changes(self, parent_id: str, cursor: tuple[int, int] = (0, 0)) -> Changes:
        """Runs changed and metrics added under ``parent_id`` since ``cursor`` (``(0, 0)``: all).

        The returned :attr:`Changes.cursor` is what to pass next time.
        """
        seq0, metric0 = cursor
        conn = self._conn
        conn.execute("BEGIN")
        try:
            runs = [
                RunRow.from_sql(r)
                for r in conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM runs WHERE (parent_id=? OR id=?) AND seq>? ORDER BY seq",
                    (parent_id, parent_id, seq0),
                )
            ]
            metrics = [
                MetricRow.from_sql(r)
                for r in conn.execute(
                    "SELECT m.id, m.run_id, m.name, m.step, m.value, m.text, m.time FROM metrics m "
                    "CROSS JOIN runs r ON r.id = m.run_id WHERE r.parent_id=? AND m.id>? ORDER BY m.id",
                    (parent_id, metric0),
                )
            ]
        finally:
            conn.execute("COMMIT")
        seq = max([seq0, *(r.seq for r in runs)])
        last = max([metric0, *(m.id for m in metrics)])
        return Changes(runs=runs, metrics=metrics, cursor=(seq, last))


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: str) -> Store:
    """The process-wide :class:`Store` for ``path`` (one writer thread per file)."""
    key = os.path.abspath(path)
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(key)
        return store
