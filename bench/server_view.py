"""The server's view route at scale: what ``GET .../runs/RUN/view`` costs the Jupyter server.

Fills a store with an experiment of RUNS runs x INTERVALS intervals (``bench/widget.py``'s
``fill_store``; the last 20 runs still Running), then times what the handler runs, in process (no
HTTP): the first request of a view (the model built from the store, and its snapshot), an update
after one new value (``seq=N``: the store polled, the update encoded), and a snapshot of a model the
server already keeps (a second view opening). Sizes are of the JSON the route sends.

    python bench/server_view.py                     # 1000 runs x 100 intervals, 20 updates
    python bench/server_view.py --runs 200 --intervals 30
    python bench/server_view.py --insight           # + one insight job (importances and contour)

The baseline, measured in the same run, reads every metric row of the run and encodes it as JSON:
the floor any first view pays; the ratio says what the view model adds on top.

``--insight`` also times one ``python -m hdnotebook.insight_job`` over the store (what the server
runs in the background when the number of Completed runs changed; needs scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from widget import fill_store  # noqa: E402

from hdnotebook.server.views import MIN_POLL_SECONDS, ViewModels  # noqa: E402
from hdnotebook.store import Store, open_store  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=100)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--insight", action="store_true", help="also time one insight job")
    args = parser.parse_args(argv)
    path = os.path.join(tempfile.mkdtemp(), "hdnotebook.sqlite")
    pid = fill_store(path, runs=args.runs, intervals=args.intervals, running=20)
    writer, store = Store(path), open_store(path, read_only=True)
    views, key = ViewModels(insight=False), ("0" * 16, pid)
    t = time.perf_counter()
    first = views.messages(key, store, 0)
    first_s, first_bytes = time.perf_counter() - t, len(json.dumps(first, allow_nan=False))
    seq, epoch, times, sizes = first["seq"], first["epoch"], [], []
    for k in range(args.updates):
        run_id = f"{pid}_{args.runs - 1 - k % 20}"
        writer.add_metrics([(run_id, "accuracy", args.intervals + k, 0, 0.5, None, time.time())])
        writer.flush()
        time.sleep(MIN_POLL_SECONDS * 1.1)  # the server polls a model's store at most this often
        t = time.perf_counter()
        answer = views.messages(key, store, seq, epoch)
        times.append(time.perf_counter() - t)
        sizes.append(len(json.dumps(answer, allow_nan=False)))
        seq = answer["seq"]
    t = time.perf_counter()
    views.messages(key, store, 0)
    again_s = time.perf_counter() - t
    print(f"{args.runs} runs x {args.intervals} intervals")
    print(f"first request of a view (model built + snapshot): {first_s:.2f} s, {first_bytes / 1e6:.2f} MB JSON")
    print(f"update after one new value: median {1000 * statistics.median(times):.1f} ms, "
          f"{statistics.median(sizes) / 1e3:.1f} kB JSON ({args.updates} updates)")
    print(f"snapshot of a model the server keeps: {again_s:.2f} s")
    # baseline, same store and run: reading every row once and encoding it as JSON (the floor any
    # first view pays; the old /changes route from cursor 0 cost about this)
    t = time.perf_counter()
    rows = store.child_runs(pid)
    metrics = store.metrics([r.id for r in rows])
    json.dumps([[m.run_id, m.name, m.step, m.value] for m in metrics], allow_nan=False)
    base_s = time.perf_counter() - t
    print(f"baseline (every metric row read + JSON-encoded): {base_s:.2f} s; "
          f"ratio first view / baseline {first_s / base_s:.2f}")
    if args.insight:
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "hdnotebook.insight_job", path, pid], capture_output=True,
                              text=True, check=True)
        answer = json.loads(done.stdout)
        print(f"insight job over {answer['completed']} Completed runs: {time.perf_counter() - t:.2f} s "
              f"(importances {'ok' if answer['importance']['values'] else answer['importance']['note']}, "
              f"contour {'ok' if answer['contour'] else 'none'})")


if __name__ == "__main__":
    main()
