"""How long a steering request waits for the driver: request event -> answer event, from the store's times.

Two paths: ``kernel`` (``hyperdrive_run.pause()`` in the kernel that runs the driver: it wakes the
driver at once) and ``store`` (a request written to the store with nothing else, as another kernel
or the server writes it: the driver finds it at its next half-second look). Pause and resume
alternate on a running experiment (its trials sleep, so the machine's load matters little).

    python bench/steering_latency.py --requests 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from hdnotebook import (Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling, Run, Workspace,
                        uniform)
from hdnotebook.steering import STEER_REQUESTED, STEERED, send_request, wait_answer


def sleeper(x):
    run = Run.get_context()
    for i in range(600):
        run.log("score", x)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20, help="requests per path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = HyperDriveConfig(estimator=sleeper, hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}),
                                  policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
                                  max_total_runs=2, max_concurrent_runs=1)
        run = Experiment(Workspace(tmp), "latency").submit(config)
        try:
            for i in range(args.requests):
                (run.pause if i % 2 == 0 else run.resume_trials)()
            for i in range(args.requests):
                rid = send_request(run.store, run.id, "pause" if i % 2 == 0 else "resume", source="bench")
                wait_answer(run.store, run.id, rid, timeout=10)
            run.store.flush()
            asked: dict[str, tuple[str, float]] = {}
            waits: dict[str, list[float]] = {"kernel": [], "store": []}
            for _i, _r, kind, payload, t in run.store.events([run.id]):
                if kind == STEER_REQUESTED:
                    asked[payload["request_id"]] = ("store" if payload.get("source") == "bench" else "kernel", t)
                elif kind == STEERED and payload["request_id"] in asked:
                    path, t0 = asked[payload["request_id"]]
                    waits[path].append(t - t0)
        finally:
            run.cancel()
            run.wait_for_completion()
    for path, w in waits.items():
        w.sort()
        print(f"{path:6s} n={len(w)} median {1000 * statistics.median(w):.0f} ms  "
              f"p90 {1000 * w[int(0.9 * (len(w) - 1))]:.0f} ms  max {1000 * w[-1]:.0f} ms")


if __name__ == "__main__":
    main()
