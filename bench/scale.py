"""200 no-op trials on a Dask LocalCluster (2 workers) vs local loky, each vs a bare joblib loop.

Usage: python bench/scale.py [--trials 200] [--repeat 3]

Four timings of the same no-op work (a function that returns its argument), two workers each:

- bare joblib, loky: ``Parallel(n_jobs=2, backend="loky", batch_size=1)`` over the tasks;
- bare joblib, dask: the same on ``LocalCluster(n_workers=2, threads_per_worker=1)``;
- hdnotebook, loky / dask: an experiment of that many trials (``max_concurrent_runs=2``): each
  trial sampled, dispatched alone, its return value logged through the metrics channel and
  stored, its status written.

Worker pools and the cluster are warm before timing; each figure is the best of ``--repeat``.
Printed: seconds and trials per second, the per-trial overhead of hdnotebook over the bare loop on
the same backend, and the ratios hdnotebook/bare (per backend) and dask/loky (per layer).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import joblib
from joblib import Parallel, delayed

from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Workspace, uniform


def noop(x: float) -> float:
    return x


def bare(n: int, backend: str) -> float:
    start = time.perf_counter()
    with joblib.parallel_config(backend=backend):
        Parallel(n_jobs=2, batch_size=1)(delayed(noop)(i) for i in range(n))
    return time.perf_counter() - start


def through_hdnotebook(n: int, backend: str, workdir: str) -> float:
    config = HyperDriveConfig(
        estimator=noop,
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=0),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=n, max_concurrent_runs=2,
    )
    start = time.perf_counter()
    with joblib.parallel_config(backend=backend):
        run = Experiment(Workspace(workdir), f"bench-{time.time_ns()}").submit(config)
    run.wait_for_completion()
    elapsed = time.perf_counter() - start
    children = run.get_children()
    statuses = {c.get_status() for c in children}
    assert len(children) == n and statuses == {"Completed"}, statuses
    return elapsed


def best(repeat: int, fn, *args) -> float:
    return min(fn(*args) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = min(args.trials, 1000)

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50)
    client = Client(cluster)
    times: dict[tuple[str, str], float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for backend in ("loky", "dask"):
                bare(20, backend)  # warm the workers
                through_hdnotebook(10, backend, tmp)
                times["bare", backend] = best(args.repeat, bare, n, backend)
                times["hdnotebook", backend] = best(args.repeat, through_hdnotebook, n, backend, tmp)
    finally:
        client.close()
        cluster.close()

    print(f"{n} no-op trials, 2 workers (best of {args.repeat})")
    print(f"  {'':24s} {'seconds':>9s} {'trials/s':>9s} {'ms/trial':>9s}")
    for layer in ("bare", "hdnotebook"):
        for backend in ("loky", "dask"):
            t = times[layer, backend]
            label = f"{'bare joblib' if layer == 'bare' else 'hdnotebook'}, {backend}"
            print(f"  {label:24s} {t:9.2f} {n / t:9.0f} {1000 * t / n:9.2f}")
    for backend in ("loky", "dask"):
        ours, base = times["hdnotebook", backend], times["bare", backend]
        print(
            f"  hdnotebook / bare, {backend:5s}: {ours / base:6.2f}x  "
            f"(+{1000 * (ours - base) / n:.2f} ms per trial)"
        )
    print(f"  dask / loky, bare joblib : {times['bare', 'dask'] / times['bare', 'loky']:6.2f}x")
    print(f"  dask / loky, hdnotebook  : {times['hdnotebook', 'dask'] / times['hdnotebook', 'loky']:6.2f}x")


if __name__ == "__main__":
    main()
