"""Values logged per second from trial processes, end to end into SQLite: commit lag and driver memory.

Usage: python bench/log_throughput.py [--trials 2] [--values 1000000]

Each of ``--trials`` function trials (running at once, in their own processes) logs ``--values``
floats in a tight ``run.log`` loop. While they log, a thread of this process (the driver) samples
the store every 0.1 s: the **commit lag** is how far the newest committed value's log time is
behind now (SPEC §11: a value is acknowledged only once committed, so this is also what a kill of
the kernel could cost a live trial). It reports:

- end-to-end rate: values committed / (last commit - first log), target >= 200,000/s;
- commit lag: max and median while logging, target max <= 1 s; drain: last log to last commit;
- driver memory: peak RSS of this process while the experiment runs, above what it had before
  submitting, the engine already imported (the writer's queue is bounded, so this should not grow
  with ``--values``);
- a count check in SQLite: every value stored, in order.

Baseline, measured in the same run: appending the same tuples to a Python list in a loop (the
cheapest possible "log"), so the ratio shows what the channel and the store cost on top.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import threading
import time

from hdnotebook import Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Run, Workspace, choice


def chatty(n: int, trial: int) -> None:
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


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--values", type=int, default=1_000_000, help="values per trial")
    args = parser.parse_args()
    n, k = args.values, args.trials
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        config = HyperDriveConfig(
            estimator=chatty,
            hyperparameter_sampling=RandomParameterSampling({"n": choice(n), "trial": choice(*range(k))}, seed=0),
            policy=NoTerminationPolicy(), primary_metric_name="log_seconds", primary_metric_goal="minimize",
            max_total_runs=k, max_concurrent_runs=k,
        )
        import hdnotebook.engine.scheduler  # noqa: F401 - what submit imports, before the baseline

        rss0 = rss_mb()
        peak = [rss0]
        lags: list[float] = []
        commits: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            conn = None
            while not stop.is_set():
                time.sleep(0.1)
                peak[0] = max(peak[0], rss_mb())
                try:
                    conn = conn or sqlite3.connect(f"file:{ws.store_path}?mode=ro", uri=True)
                    # the newest row by id (the rowid: no scan); ids are dense, so it is also the count
                    count, newest = conn.execute(
                        "SELECT id, time FROM metrics WHERE id = (SELECT MAX(id) FROM metrics)"
                    ).fetchone() or (0, None)
                except sqlite3.Error:
                    continue
                now = time.time()
                commits.append((now, count))
                if newest is not None and 0 < count < n * k:
                    lags.append(now - newest)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run = Experiment(ws, "logging").submit(config)
        run.wait_for_completion(poll_seconds=0.05)
        stop.set()
        sampler.join()
        children = run.get_children()
        statuses = [c.get_status() for c in children]
        log_seconds = [c.get_metrics("log_seconds")["log_seconds"] for c in children]
        db = sqlite3.connect(f"file:{ws.store_path}?mode=ro", uri=True)
        stored = db.execute("SELECT COUNT(*) FROM metrics WHERE name='loss'").fetchone()[0]
        ordered = db.execute("SELECT COUNT(*) FROM metrics WHERE name='loss' AND value = step * 0.5").fetchone()[0]
        first_log, last_log, last_commit = db.execute(
            "SELECT MIN(time), MAX(time), (SELECT MAX(time) FROM metrics) FROM metrics WHERE name='loss'"
        ).fetchone()
        done = next((t for t, c in commits if c >= n * k), time.time())
    peak_rss = peak[0]  # sampled while the experiment ran (what is read back afterwards is not the driver's)
    base = baseline(n)
    total = n * k
    print(f"{k} trials x {n} values logged at once (statuses {sorted(set(statuses))})")
    print(f"  run.log calls per second per trial: {statistics.median(n / s for s in log_seconds):12.0f}/s")
    print(f"  end to end, first log -> committed: {total / (done - first_log):12.0f}/s   (target >= 200,000)")
    print(f"  commit lag while logging, max     : {max(lags, default=0):12.2f} s    (target <= 1 s)")
    print(f"  commit lag while logging, median  : {statistics.median(lags) if lags else 0:12.2f} s")
    print(f"  last log -> all committed (drain) : {max(0.0, done - last_log):12.2f} s")
    print(f"  driver RSS before / peak          : {rss0:8.0f} / {peak_rss:.0f} MB (+{peak_rss - rss0:.0f} MB)")
    print(f"  baseline list.append per second   : {base:12.0f}/s; ratio run.log / baseline {n / statistics.median(log_seconds) / base:.3f}")
    print(f"  stored in SQLite                  : {stored} of {total} (lost {total - stored}), in order: {ordered == total}")


if __name__ == "__main__":
    main()
