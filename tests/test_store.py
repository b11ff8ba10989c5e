"""The store's writer: what a batch folds together ends as the same rows as one write at a time."""

from __future__ import annotations

import dataclasses
import sqlite3

from hdnotebook.store import SCHEMA, Store, StoreWriter, _coalesce

ROW = {
    "id": "HD_1_0", "experiment": "e", "parent_id": "HD_1", "number": 0, "status": "Queued",
    "created": 1.0, "params": {"lr": 0.1}, "details": {"arguments": [], "gpus": []},
}
OPS = [
    ("insert_run", (ROW,)),
    ("update_run", ("HD_1_0", {"status": "Running", "started": 2.0, "details": {"pid": 7}})),
    ("metrics", ([("HD_1_0", "acc", 0, 0.5, None, 2.5)],)),
    ("update_run", ("HD_1_0", {"status": "Completed", "ended": 3.0, "details": {"attempts": 1}})),
]


def test_updates_of_a_run_inserted_in_the_same_batch_fold_into_its_insert():
    folded = _coalesce(list(OPS))
    assert [op for op, _ in folded] == ["insert_run", "metrics"]
    row = folded[0][1][0]
    assert row["status"] == "Completed" and row["started"] == 2.0 and row["ended"] == 3.0
    assert row["details"] == {"arguments": [], "gpus": [], "pid": 7, "attempts": 1}
    assert ROW["details"] == {"arguments": [], "gpus": []} and ROW["status"] == "Queued"  # not mutated


def test_one_batch_and_one_write_at_a_time_store_the_same_rows(tmp_path):
    rows = []
    for name, batches in (("batch", [OPS]), ("single", [[op] for op in OPS])):
        path = str(tmp_path / f"{name}.sqlite")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.executescript(SCHEMA)
        writer = StoreWriter(path)
        for batch in batches:
            writer._apply(conn, list(batch))
        store = Store(path)
        run = store.run("HD_1_0")
        rows.append((dataclasses.replace(run, seq=0), [dataclasses.replace(m, id=0) for m in store.metrics(["HD_1_0"])]))
    assert rows[0] == rows[1]
    assert rows[0][0].status == "Completed" and rows[0][0].details["pid"] == 7
