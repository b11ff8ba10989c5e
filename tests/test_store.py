"""The store: batches fold into the same rows, values read back as logged, bad rows and storage
faults fail only themselves (with the cause, the file and what to do), schema versions migrate."""

from __future__ import annotations

import dataclasses
import math
import os
import sqlite3

import numpy as np
import pytest

from hdnotebook.store import (
    SCHEMA, SCHEMA_VERSION, RowRejected, Store, StoreError, StoreWriter, ValueKind, _coalesce, _open_writer,
    decode_value, encode_value, metric_rows_json,
)

ROW = {
    "id": "HD_1_0", "experiment": "e", "parent_id": "HD_1", "number": 0, "status": "Queued",
    "created": 1.0, "params": {"lr": 0.1}, "details": {"arguments": [], "gpus": []},
}
OPS = [
    ("insert_run", (ROW,)),
    ("update_run", ("HD_1_0", {"status": "Running", "started": 2.0, "details": {"pid": 7}})),
    ("metrics", ([("HD_1_0", "acc", 0, 0, 0.5, None, 2.5)],)),
    ("update_run", ("HD_1_0", {"status": "Completed", "ended": 3.0, "details": {"attempts": 1}})),
]


def _ticketed(ops):
    return [(i, op, args) for i, (op, args) in enumerate(ops)]


def test_updates_of_a_run_inserted_in_the_same_batch_fold_into_its_insert():
    folded = _coalesce(_ticketed(OPS))
    assert [op for _, op, _ in folded] == ["insert_run", "metrics"]
    row = folded[0][2][0]
    assert row["status"] == "Completed" and row["started"] == 2.0 and row["ended"] == 3.0
    assert row["details"] == {"arguments": [], "gpus": [], "pid": 7, "attempts": 1}
    assert ROW["details"] == {"arguments": [], "gpus": []} and ROW["status"] == "Queued"  # not mutated


def test_one_batch_and_one_write_at_a_time_store_the_same_rows(tmp_path):
    rows = []
    for name, batches in (("batch", [OPS]), ("single", [[op] for op in OPS])):
        store = Store(str(tmp_path / f"{name}.sqlite"))
        for batch in batches:
            tickets = [store.writer.put(op, *args) for op, args in batch]
            store.wait(tickets[-1])
        run = store.run("HD_1_0")
        rows.append((dataclasses.replace(run, seq=0), [dataclasses.replace(m, id=0) for m in store.metrics(["HD_1_0"])]))
    assert rows[0] == rows[1]
    assert rows[0][0].status == "Completed" and rows[0][0].details["pid"] == 7


class _Tensor0d:
    """What a 0-d torch tensor looks like to run.log: a dtype without numpy's .kind, shape (), .item()."""

    dtype = object()
    shape = ()

    def __init__(self, value):
        self.value = value

    def item(self):
        return self.value


VALUES = [
    (0.5, 0.5), (3, 3), (-7, -7), (10**400, 10**400), (-(10**400), -(10**400)), (2**60 + 1, 2**60 + 1),
    (True, True), (False, False), (np.bool_(True), True), (np.float32(0.25), 0.25), (np.int64(9), 9),
    (np.array(1.5), 1.5), (np.array(4), 4), (None, None), ("nan", "nan"), ("None", "None"), ("", ""),
    ("héllo ☃", "héllo ☃"), (math.inf, math.inf), (-math.inf, -math.inf), (_Tensor0d(0.75), 0.75),
    (_Tensor0d(True), True), (np.str_("text"), "text"),
]


@pytest.mark.parametrize("value, expected", VALUES, ids=[repr(v)[:30] for v, _ in VALUES])
def test_every_storable_value_reads_back_as_logged(tmp_path, value, expected):
    store = Store(str(tmp_path / "s.sqlite"))
    store.wait(store.add_metrics([("r", "m", 0, *encode_value(value), 1.0)]))
    (row,) = store.metrics(["r"])
    assert row.logged == expected and type(row.logged) is type(expected)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert row.value == float(expected) if abs(expected) < 1e300 else math.isinf(row.value)
    assert decode_value(*encode_value(value)) == expected


def test_nan_reads_back_as_nan_and_the_string_nan_as_a_string(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    store.wait(store.add_metrics([("r", "m", 0, *encode_value(math.nan), 1.0), ("r", "m", 1, *encode_value("nan"), 1.0),
                                  ("r", "m", 2, *encode_value(np.float64("nan")), 1.0)]))
    a, b, c = store.metrics(["r"])
    assert math.isnan(a.logged) and math.isnan(a.value) and a.kind == ValueKind.NAN
    assert b.logged == "nan" and b.value is None and b.text == "nan"
    assert math.isnan(c.logged)


@pytest.mark.parametrize("value, words", [
    (1 + 2j, "complex"), (np.complex128(1 + 1j), "complex"), ([1, 2], "log_list"), (np.arange(3), "log_list"),
    (object(), "cannot store"), ({"a": 1}, "cannot store"), ("file_\udcff", "surrogate"),
])
def test_what_cannot_be_stored_is_a_clear_error_naming_the_metric(value, words):
    with pytest.raises((TypeError, ValueError)) as info:
        encode_value(value, "loss")
    assert words in str(info.value) and "'loss'" in str(info.value) or "surrogate" in str(info.value)


def test_a_bad_row_fails_alone_and_its_run_gets_the_reason(tmp_path):
    """One row that SQLite refuses (a lone surrogate in its name, as os.fsdecode makes) costs only that row."""
    store = Store(str(tmp_path / "s.sqlite"))
    good = store.add_metrics([("a", "acc", i, 0, float(i), None, 1.0) for i in range(100)])
    bad = store.add_metrics([("b", "ok", 0, 0, 1.0, None, 1.0), ("b", "file_\udcff", 0, 0, 2.0, None, 1.0),
                             ("b", "ok", 1, 0, 3.0, None, 1.0)])
    other = store.add_metrics([("c", "acc", 0, 0, 1.0, None, 1.0)])
    store.wait(good)
    with pytest.raises(RowRejected, match="refused 1 row .*run b"):
        store.wait(bad)
    store.wait(other)
    store.flush()  # a refused row is its writer's business, not every reader's
    assert store.count_metrics("a") == 100 and store.count_metrics("c") == 1
    assert [m.value for m in store.metrics(["b"])] == [1.0, 3.0]
    assert [kind for _, _, kind, _, _ in store.events(["b"])] == ["rejected"]


def test_a_corrupt_file_names_the_cause_the_file_and_what_to_do(tmp_path):
    path = tmp_path / "hdnotebook.sqlite"
    path.write_bytes(b"this is not a database" * 300)
    with pytest.raises(StoreError) as info:
        Store(str(path))
    message = str(info.value)
    assert str(path) in message and "not a database" in message and "move it aside" in message
    assert info.value.fault == "NOT_A_DATABASE"


def test_schema_version_and_migration_of_an_unversioned_store(tmp_path):
    """A store from before versions (NaN kept as the text 'nan') reads the same read-only, and is
    migrated when first opened for writing."""
    path = str(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(SCHEMA)  # the tables of today, then metrics as it was before versions
    conn.executescript("DROP TABLE metrics; CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT "
                       "NOT NULL, name TEXT NOT NULL, step INTEGER NOT NULL, value REAL, text TEXT, time REAL NOT NULL);")
    conn.executemany("INSERT INTO metrics(run_id, name, step, value, text, time) VALUES (?,?,?,?,?,?)",
                     [("r", "m", 0, 0.5, None, 1.0), ("r", "m", 1, None, "nan", 1.0), ("r", "note", 0, None, "hi", 1.0)])
    conn.execute("PRAGMA user_version=0")
    conn.close()
    before = os.stat(path).st_mtime_ns
    ro = Store(path, read_only=True)
    legacy = [m.logged for m in ro.metrics(["r"])]
    assert legacy[0] == 0.5 and math.isnan(legacy[1]) and legacy[2] == "hi"
    assert ro.schema_version() == 0 and os.stat(path).st_mtime_ns == before and not os.path.exists(path + "-wal")
    with pytest.raises(StoreError, match="read-only"):
        ro.add_event("r", "x")
    rw = Store(path)
    assert rw.schema_version() == SCHEMA_VERSION
    migrated = [m.logged for m in rw.metrics(["r"])]
    assert migrated[0] == 0.5 and math.isnan(migrated[1]) and migrated[2] == "hi"


def test_readers_never_create_the_schema_nor_change_the_journal_mode(tmp_path):
    path = str(tmp_path / "plain.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE unrelated (x)")
    conn.close()
    store = Store(path, read_only=True)
    with pytest.raises(sqlite3.OperationalError):
        store.experiments()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["unrelated"]


def test_close_checkpoints_so_the_file_alone_holds_everything(tmp_path):
    path = str(tmp_path / "s.sqlite")
    store = Store(path)
    store.wait(store.add_metrics([("r", "m", i, 0, float(i), None, 1.0) for i in range(1000)]))
    store.metrics(["r"])
    store.close()
    assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 1000


def test_back_pressure_bounds_what_waits_in_memory(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"), max_pending_rows=1000)
    for i in range(20):
        store.wait_for_room()
        store.add_metrics([("r", "m", i * 500 + j, 0, 1.0, None, 1.0) for j in range(500)])
        assert store.writer._pending_rows <= 1500
    store.flush()
    assert store.count_metrics("r") == 10_000


def _trial_row(name, step, value):
    """A row as a trial sends it (NaN travels as None with kind NAN)."""
    kind, number, text = encode_value(value, name)
    return (name, step, kind, None if kind == ValueKind.NAN else number, text, 1733343000.1234567 + step * 1e-6)


def test_rows_sent_as_json_text_are_stored_exactly_as_rows_sent_as_a_list(tmp_path):
    """SQLite inserts a trial's JSON text itself: every value, kind, text and time reads back as the
    list path stores it, in the order logged (random doubles included, to the last bit)."""
    rng = np.random.default_rng(0)
    doubles = [float(x) for x in rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500)]
    doubles += [float(x) for x in rng.integers(0, 2**63, 200, dtype=np.uint64).view(np.float64) if math.isfinite(x)]
    odd = ['quote " and \\ backslash', "line\nbreak\ttab\x01", "héllo ☃ 𝔘", "", "nan", "null", '"loss"', "[[1]]"]
    values = [*doubles, 0.0, -0.0, 2**53 + 1, -(2**60), True, False, None, math.nan, *odd, np.float32(0.1), 7]
    rows = [_trial_row("m" if i % 3 else "other", i, v) for i, v in enumerate(values)]
    text = metric_rows_json(rows)
    assert text is not None and text.startswith("[[")
    store = Store(str(tmp_path / "s.sqlite"))
    store.wait(store.add_run_metrics_json("j", text))
    store.wait(store.add_metrics([("l", *row) for row in rows]))
    as_json, as_list = store.metrics(["j"]), store.metrics(["l"])
    key = lambda m: (m.name, m.step, m.kind, m.text, m.exact, m.time, repr(m.value))  # repr: -0.0 and NaN too
    assert [key(m) for m in as_json] == [key(m) for m in as_list]
    assert len(as_json) == len(values) and [m.step for m in as_json] == list(range(len(values)))
    logged = [m.logged for m in as_json]
    assert logged[: len(doubles)] == doubles and math.isnan(logged[len(doubles) + 7])
    assert logged[len(doubles) + 8:len(doubles) + 8 + len(odd)] == odd


def test_what_json_cannot_carry_goes_as_a_list():
    assert metric_rows_json([_trial_row("m", 0, math.inf)]) is None
    assert metric_rows_json([_trial_row("m", 0, 10**400)]) is None  # its float is inf; the digits are text
    assert metric_rows_json([_trial_row("m", 0, "a\x00b")]) is None  # SQLite's JSON strings end at NUL
    assert metric_rows_json([_trial_row("m", 0, math.nan)]) == '[["m",0,2,null,null,1733343000.1234567]]'


def test_a_bad_json_text_or_row_fails_alone_and_its_run_gets_the_reason(tmp_path):
    store = Store(str(tmp_path / "s.sqlite"))
    good = metric_rows_json([_trial_row("acc", i, float(i)) for i in range(50)])
    one_bad = '[["ok",0,0,1.0,null,1.0],["short",1,0,2.0,null],["ok",1,0,3.0,null,1.0],[null,2,0,4.0,null,1.0]]'
    writes = [  # queued together: one batch
        ("a", store.add_run_metrics_json("a", good)),
        ("b", store.add_run_metrics_json("b", one_bad)),
        ("c", store.add_run_metrics_json("c", "[[not json")),
        ("d", store.add_metrics([("d", "acc", 0, 0, 1.0, None, 1.0)])),
    ]
    outcomes = {}
    for run, ticket in writes:
        try:
            store.wait(ticket)
            outcomes[run] = "ok"
        except RowRejected as exc:
            outcomes[run] = str(exc)
    assert outcomes["a"] == outcomes["d"] == "ok"
    assert "refused 2 rows" in outcomes["b"] and "run b" in outcomes["b"]
    assert "refused 1 row" in outcomes["c"] and "not json" in outcomes["c"]
    assert store.count_metrics("a") == 50 and store.count_metrics("d") == 1
    assert [(m.name, m.value) for m in store.metrics(["b"])] == [("ok", 1.0), ("ok", 3.0)]
    assert store.count_metrics("c") == 0
    assert [kind for _, _, kind, _, _ in store.events(["b", "c"])] == ["rejected", "rejected"]


def test_run_seq_keeps_growing_when_another_connection_writes_between_commits(tmp_path):
    """The writer remembers the last seq between its commits; a write from another connection
    (here a claim, as another kernel or the server makes) must be seen, or two rows share a seq
    and a change feed misses one."""
    store = Store(str(tmp_path / "s.sqlite"))
    for i in range(3):
        store.insert_run(**{**ROW, "id": f"HD_1_{i}", "number": i})
    store.flush()
    store.update_run("HD_1_0", status="Running")
    store.flush()
    assert store.claim_run("HD_1_1", "owner", None, {"owner": "me"})  # its own connection
    store.update_run("HD_1_2", status="Running")
    store.flush()
    seqs = [store.run(f"HD_1_{i}").seq for i in range(3)]
    assert len(set(seqs)) == 3 and seqs[0] < seqs[1] < seqs[2], seqs


def test_a_write_nobody_waits_for_is_committed_without_a_wait(tmp_path):
    """The writer may hold writes nobody waits for a moment, to commit them together; it never
    keeps them: another connection sees them without anyone calling wait or flush here."""
    store = Store(str(tmp_path / "s.sqlite"))
    store.insert_run(**ROW)
    other = sqlite3.connect(f"file:{tmp_path / 's.sqlite'}?mode=ro", uri=True)
    for _ in range(500):
        if other.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1:
            break
        import time

        time.sleep(0.01)
    assert other.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
