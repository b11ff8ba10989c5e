"""The insight views of one experiment run, computed in a process of its own.

``python -m hdnotebook.insight_job STORE_PATH RUN_ID`` reads the store (read-only) and prints one
JSON object: ``{"completed": n, "importance": {"values": {name: share} | None, "note": why not},
"contour": grid | None}`` -- what :meth:`HyperDriveRun.get_param_importances` and
:meth:`HyperDriveRun.get_param_contour` say now, the numbers the RunDetails widget shows. The
Jupyter server runs it for the sidebar's experiment tab and the /hdnotebook page, so their insight
views match the widget's while the server itself never loads scikit-learn or scipy.

>>> insight(store, run_id)["importance"]["values"]      # doctest: +SKIP
{'lr': 0.93, 'bs': 0.07}
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ._vocab import RunStatus
from .experiment_run import HyperDriveRun
from .store import Store, open_store

__all__ = ["insight", "main"]


def insight(store: Store, run_id: str) -> dict[str, Any]:
    """The importances and the contour of experiment run ``run_id`` over its Completed runs."""
    run = HyperDriveRun(store, run_id)
    completed = sum(1 for r in store.child_runs(run_id) if r.status == RunStatus.COMPLETED)
    importance: dict[str, Any] = {"values": None, "note": ""}
    try:
        importance["values"] = run.get_param_importances()
    except (ValueError, ImportError) as exc:
        importance["note"] = str(exc)
    try:
        names = list(importance["values"])[:2] if importance["values"] else None
        contour = run.get_param_contour(names)
    except (ValueError, ImportError):
        contour = None
    return {"completed": completed, "importance": importance, "contour": contour}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m hdnotebook.insight_job STORE_PATH RUN_ID", file=sys.stderr)
        return 2
    store = open_store(args[0], read_only=True)
    if store.run(args[1]) is None:
        print(f"no run {args[1]!r} in {args[0]}", file=sys.stderr)
        return 1
    print(json.dumps(insight(store, args[1]), allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
