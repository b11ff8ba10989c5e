"""No-op trials per second through hdnotebook vs a bare joblib.Parallel(n_jobs=2) loky loop.

Usage: python bench/dispatch.py [--trials 1000] [--repeats 3]

All run in this process with warm worker pools, interleaved (hdnotebook, then each baseline, then
again), and the medians are compared: the ratio is hdnotebook / bare. Two baselines, each over the
same number of calls: joblib's default auto-batching (many no-op calls per message) and
batch_size=1 (one call per message, what a trial needs to be scheduled on its own). hdnotebook's
figure includes everything a trial costs: drawing its configuration, its rows in SQLite (created,
Running, Completed, its return value as the primary metric) and its round trip to a lane.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from joblib import Parallel, delayed

from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Workspace, uniform


def noop(x: float) -> float:
    return x


def bare(n: int, batch_size: int | str) -> float:
    start = time.perf_counter()
    Parallel(n_jobs=2, batch_size=batch_size)(delayed(noop)(i) for i in range(n))
    return n / (time.perf_counter() - start)


def through_hdnotebook(n: int, workdir: str) -> float:
    config = HyperDriveConfig(
        estimator=noop,
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=0),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=n, max_concurrent_runs=2,
    )
    start = time.perf_counter()
    run = Experiment(Workspace(workdir), f"bench-{time.time_ns()}").submit(config)
    run.wait_for_completion()
    elapsed = time.perf_counter() - start
    statuses = {c.get_status() for c in run.get_children()}
    assert len(run.get_children()) == n and statuses == {"Completed"}, statuses
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000, help="per measurement, at most 1000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = min(args.trials, 1000)
    bare(200, 1)  # warm the pool
    runs: dict[str, list[float]] = {"ours": [], "auto": [], "one": []}
    with tempfile.TemporaryDirectory() as tmp:
        through_hdnotebook(50, tmp)
        for _ in range(args.repeats):
            runs["ours"].append(through_hdnotebook(n, tmp))
            runs["auto"].append(bare(n, "auto"))
            runs["one"].append(bare(n, 1))
    ours, auto, one = (statistics.median(runs[k]) for k in ("ours", "auto", "one"))
    print(f"no-op trials per second, n={n}, n_jobs=2, medians of {args.repeats}")
    print(f"  hdnotebook runs             : {', '.join(f'{r:.0f}' for r in runs['ours'])}")
    print(f"  bare joblib (auto batching) : {auto:10.0f}/s")
    print(f"  bare joblib (batch_size=1)  : {one:10.0f}/s")
    print(f"  hdnotebook                  : {ours:10.0f}/s")
    print(f"  ratio vs auto batching      : {ours / auto:10.3f}")
    print(f"  ratio vs batch_size=1       : {ours / one:10.3f}   (target >= 0.5)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
