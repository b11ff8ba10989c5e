"""The README's demo: tune an MLP on scikit-learn's digits, live, and print the best run.

Run it with ``python -m hdnotebook.demo`` (``bash scripts/demo.sh`` sets everything up first).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from . import (
    Experiment,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Workspace,
    choice,
    loguniform,
)
from .examples import train_mlp


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-total-runs", type=int, default=24)
    parser.add_argument("--max-concurrent-runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--workspace", default=None, help="default: a fresh temporary folder")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    workspace = Workspace(args.workspace or tempfile.mkdtemp(prefix="hdnotebook-demo-"))
    sampling = RandomParameterSampling(
        {
            "learning_rate": loguniform(-9, -2),
            "alpha": loguniform(-12, -3),
            "hidden": choice(16, 32, 64, 128),
            "batch_size": choice(16, 32, 64, 128),
            "epochs": choice(args.epochs),
        },
        seed=args.seed,
    )
    config = HyperDriveConfig(
        estimator=train_mlp,
        hyperparameter_sampling=sampling,
        policy=None,  # the default: MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=args.max_total_runs,
        max_concurrent_runs=args.max_concurrent_runs,
    )
    print(f"hdnotebook demo: MLP on scikit-learn digits, {args.max_total_runs} runs, "
          f"{args.max_concurrent_runs} at a time, policy {config.policy!r}")
    print(f"workspace: {workspace.path} (pid {os.getpid()})\n")
    started = time.time()
    run = Experiment(workspace, "digits-mlp").submit(config)
    run.wait_for_completion(show_output=True)

    best = run.get_best_run_by_primary_metric()
    children = run.get_children()
    stopped = sum(1 for c in children if c.get_status() == "Canceled")
    print(f"\nfinished in {time.time() - started:.1f} s: {len(children)} runs, {stopped} stopped early")
    if best is None:
        print("no run logged the primary metric")
        return
    accuracy = best.get_metrics()["accuracy"]
    print(f"best run: {best.id}")
    print(f"  accuracy (last epoch): {accuracy[-1] if isinstance(accuracy, list) else accuracy:.4f}")
    print(f"  parameters: {best.get_details()['parameters']}")


if __name__ == "__main__":
    main()
