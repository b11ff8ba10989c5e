"""Compute saved and accuracy lost by each early-termination policy, on real learning curves.

Usage: python bench/early_termination.py [--seeds 3] [--runs 40] [--epochs 40]
       [--datasets digits,breast_cancer] [--quick]

For each dataset (digits with an MLP; breast_cancer, or wine, with a linear SGD model) and each
seed, the same sampled configurations (fixed seed) run live through hdnotebook, 2 at a time,
under: no policy (the baseline measured in the same run), the default MedianStopping(1, 5),
Bandit(slack_factor 0.1, delay 5), TruncationSelection(20 %, delay 5) and ASHA. Figures per
policy: epochs consumed, % saved vs no policy, runs cut short, and the best accuracy minus the
best accuracy under no policy (a run's value is the best accuracy it logged). Medians over seeds.

Design (why these defaults):
- 40 runs per experiment: HyperDrive experiments typically have 40-100. With 20, the first runs
  are judged against medians of a handful of runs (lenient), and one seed's draw of 20
  configurations decides much of the figure.
- 40 epochs: a policy that waits ``delay_evaluation=5`` intervals can save at most
  ``1 - 5/epochs`` of a run it stops (75 % at 20 epochs, 87.5 % at 40), and at 20 epochs the
  slow-learning configurations have not converged. MLPClassifier trains 200 epochs by default.
- breast_cancer rather than wine as the second dataset: wine validates on 54 samples, so one
  sample is 1.85 % accuracy (coarser than the 0.5 % tolerance), the best run reaches 100 % on
  every seed and about 40 % of the runs tie with it; median stopping then, correctly, stops
  little beyond the runs stuck on a plateau (22 % saved, 12 of 40 runs cut, at 40 x 40 over seeds
  0-2). breast_cancer validates on 171 samples. ``--datasets`` takes any of digits,
  breast_cancer, wine.
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
from hdnotebook._vocab import best_value


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


def run_one(
    workdir: str, dataset: str, policy: object, seed: int, runs: int, epochs: int
) -> tuple[int, float, int]:
    """Epochs consumed, best accuracy and runs cut short (fewer than ``epochs`` values)."""
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
    cut = sum(1 for v in values.values() if len(v) < epochs)
    return consumed, best, cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--datasets", default="digits,breast_cancer")
    parser.add_argument("--quick", action="store_true", help="1 seed, 10 runs, 12 epochs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.runs, args.epochs = 1, 10, 12
    started = time.time()
    table: dict[tuple[str, str], list[tuple[float, float, int, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            for seed in range(args.seeds):
                baseline_epochs, baseline_best = None, None
                for name, policy in policies(args.epochs).items():
                    consumed, best, cut = run_one(tmp, dataset, policy, seed, args.runs, args.epochs)
                    if name == "none":
                        baseline_epochs, baseline_best = consumed, best
                    saved = 1 - consumed / baseline_epochs
                    table.setdefault((dataset, name), []).append((saved, best - baseline_best, consumed, cut))
                    print(f"  {dataset:13s} seed {seed} {name:17s} epochs {consumed:5d}  saved {saved:6.1%}  "
                          f"cut short {cut:3d}/{args.runs}  best {best:.4f} ({best - baseline_best:+.4f})",
                          flush=True)
    print(f"\nmedians over {args.seeds} seeds, {args.runs} runs x {args.epochs} epochs, 2 at a time "
          f"({time.time() - started:.0f} s)")
    print(f"{'dataset':13s} {'policy':17s} {'epochs':>7s} {'saved':>7s} {'cut short':>9s} {'best acc delta':>15s}")
    verdicts = []
    targets = {"median(1,5)": (0.35, 0.005), "asha(3,1)": (0.50, 0.01)}
    for (dataset, name), rows in table.items():
        saved = statistics.median(r[0] for r in rows)
        delta = statistics.median(r[1] for r in rows)
        epochs = statistics.median(r[2] for r in rows)
        cut = statistics.median(r[3] for r in rows)
        print(f"{dataset:13s} {name:17s} {epochs:7.0f} {saved:7.1%} {cut:9.1f} {delta * 100:+14.2f}%")
        if name in targets:
            min_saved, max_loss = targets[name]
            met = saved >= min_saved and -delta <= max_loss + 1e-12
            verdicts.append(f"{dataset} {name}: {'met' if met else 'NOT met'}")
    print("targets: median(1,5) saves >= 35 % at <= 0.5 % loss; ASHA saves >= 50 % at <= 1 % loss")
    print("; ".join(verdicts))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
