"""run.log values per second from one trial process, and a count check in SQLite.

Usage: python bench/log_throughput.py   (not bench/logging.py: that name would shadow the standard library for every script in bench/) [--values 200000]

Baseline, measured in the same run: appending the same tuples to a Python list in a loop (the
cheapest possible "log"), so the ratio shows what the channel and the store cost on top.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time

from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Run, Workspace, choice


def chatty(n: int) -> None:
    run = Run.get_context()
    start = time.perf_counter()
    for i in range(n):
        run.log("loss", i * 0.5)
    run.log("log_seconds", time.perf_counter() - start)


def baseline(n: int) -> float:
    rows: list[tuple[str, int, float, float]] = []
    start = time.perf_counter()
    for i in range(n):
        rows.append(("loss", i, i * 0.5, time.time()))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--values", type=int, default=200_000)
    args = parser.parse_args()
    n = args.values
    with tempfile.TemporaryDirectory() as tmp:
        config = HyperDriveConfig(
            estimator=chatty, hyperparameter_sampling=RandomParameterSampling({"n": choice(n)}, seed=0),
            policy=NoTerminationPolicy(), primary_metric_name="log_seconds", primary_metric_goal="minimize",
            max_total_runs=1,
        )
        start = time.perf_counter()
        run = Experiment(Workspace(tmp), "logging").submit(config)
        run.wait_for_completion()
        total = time.perf_counter() - start
        child = run.get_children()[0]
        seconds = child.get_metrics()["log_seconds"]
        db = sqlite3.connect(Workspace(tmp).store_path)
        stored = db.execute("SELECT COUNT(*) FROM metrics WHERE run_id=? AND name='loss'", (child.id,)).fetchone()[0]
        ordered = db.execute(
            "SELECT COUNT(*) FROM metrics WHERE run_id=? AND name='loss' AND value = step * 0.5", (child.id,)
        ).fetchone()[0]
    base = baseline(n)
    print(f"run.log from one trial process, {n} values")
    print(f"  run.log calls per second       : {n / seconds:12.0f}/s   (target >= 20,000)")
    print(f"  end to end incl. store commit  : {n / total:12.0f}/s")
    print(f"  baseline list.append per second: {base:12.0f}/s")
    print(f"  ratio run.log / baseline       : {n / seconds / base:12.3f}")
    print(f"  stored in SQLite               : {stored} of {n} (lost {n - stored}), values intact: {ordered == n}")


if __name__ == "__main__":
    main()
