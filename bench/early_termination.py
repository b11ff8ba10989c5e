"""Compute saved and accuracy lost by each early-termination policy, on real learning curves.

Usage: python bench/early_termination.py [--seeds 3] [--runs 20] [--epochs 20] [--quick]

For each dataset (digits with an MLP, wine with a linear SGD model) and each seed, the same
sampled configurations (fixed seed) run live through hdnotebook under: no policy (the baseline
measured in the same run), the default MedianStopping(1, 5), Bandit(slack_factor 0.1, delay 5),
TruncationSelection(20 %, delay 5) and ASHA. Figures per policy: epochs consumed, % saved vs no
policy, and the best accuracy minus the best accuracy under no policy (a run's value is the best
accuracy it logged). Medians over seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from hdnotebook import (
    ASHAPolicy,
    BanditPolicy,
    Experiment,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    Workspace,
    choice,
    loguniform,
)
from hdnotebook.examples import train_mlp, train_sgd
from hdnotebook.run import best_value


def policies(epochs: int) -> dict[str, object]:
    return {
        "none": NoTerminationPolicy(),
        "median(1,5)": MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5),
        "bandit(0.1,5)": BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5),
        "truncation(20,5)": TruncationSelectionPolicy(truncation_percentage=20, delay_evaluation=5),
        "asha(3,1)": ASHAPolicy(reduction_factor=3, min_resource=1, max_resource=epochs),
    }


def space(dataset: str, epochs: int) -> dict[str, object]:
    common = {
        "learning_rate": loguniform(-9, -1),
        "alpha": loguniform(-12, -2),
        "batch_size": choice(16, 32, 64, 128),
        "epochs": choice(epochs),
        "dataset": choice(dataset),
    }
    if dataset == "digits":
        common["hidden"] = choice(8, 16, 32, 64, 128)
    return common


def run_one(workdir: str, dataset: str, policy: object, seed: int, runs: int, epochs: int) -> tuple[int, float]:
    trainer = train_mlp if dataset == "digits" else train_sgd
    config = HyperDriveConfig(
        estimator=trainer,
        hyperparameter_sampling=RandomParameterSampling(space(dataset, epochs), seed=seed),
        policy=policy, primary_metric_name="accuracy", primary_metric_goal="maximize",
        max_total_runs=runs, max_concurrent_runs=2,
    )
    run = Experiment(Workspace(workdir), f"{dataset}-{seed}-{time.time_ns()}").submit(config)
    run.wait_for_completion()
    values = run.primary_values()
    consumed = sum(len(v) for v in values.values())
    best = max(best_value(v, "maximize") or 0.0 for v in values.values())
    return consumed, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--datasets", default="digits,wine")
    parser.add_argument("--quick", action="store_true", help="1 seed, 10 runs, 12 epochs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.runs, args.epochs = 1, 10, 12
    started = time.time()
    table: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            for seed in range(args.seeds):
                baseline_epochs, baseline_best = None, None
                for name, policy in policies(args.epochs).items():
                    consumed, best = run_one(tmp, dataset, policy, seed, args.runs, args.epochs)
                    if name == "none":
                        baseline_epochs, baseline_best = consumed, best
                    saved = 1 - consumed / baseline_epochs
                    table.setdefault((dataset, name), []).append((saved, best - baseline_best, consumed))
                    print(f"  {dataset:7s} seed {seed} {name:17s} epochs {consumed:4d}  saved {saved:6.1%}  "
                          f"best {best:.4f} ({best - baseline_best:+.4f})", flush=True)
    print(f"\nmedians over {args.seeds} seeds, {args.runs} runs x {args.epochs} epochs, 2 at a time "
          f"({time.time() - started:.0f} s)")
    print(f"{'dataset':8s} {'policy':17s} {'epochs':>7s} {'saved':>7s} {'best acc delta':>15s}")
    for (dataset, name), rows in table.items():
        saved = statistics.median(r[0] for r in rows)
        delta = statistics.median(r[1] for r in rows)
        epochs = statistics.median(r[2] for r in rows)
        print(f"{dataset:8s} {name:17s} {epochs:7.0f} {saved:7.1%} {delta * 100:+14.2f}%")
    print("targets: median(1,5) saves >= 35 % at <= 0.5 % loss; ASHA saves >= 50 % at <= 1 % loss")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
