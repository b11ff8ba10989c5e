"""Compute saved and accuracy lost by each early-termination policy, on real learning curves.

Usage:
    python bench/early_termination.py [--seeds 3] [--runs 40] [--epochs 40]
        [--datasets digits,breast_cancer] [--concurrency 1,2,4] [--quick]
    python bench/early_termination.py --record curves.json [--seeds 3 ...]
    python bench/early_termination.py --replay curves.json [--concurrency 1,2,4]
    python bench/early_termination.py --cost [--values 20000]

Live (default): for each dataset (digits with an MLP; breast_cancer, or wine, with a linear SGD
model) and seed, the same sampled configurations (fixed seed) run through hdnotebook under no
policy (the baseline, run once: the trainers are deterministic, so every run's curve is the same
at any concurrency) and then, at each concurrency, under the default MedianStopping(1, 5),
Bandit(slack_factor 0.1, delay 5), TruncationSelection(20 %, delay 5) and ASHA. Figures per
policy and concurrency: epochs consumed, % saved vs no policy, runs stopped early, and the best
accuracy minus the best accuracy under no policy (a run's value is the best accuracy it logged).
Medians over seeds.

``--record`` runs only the baselines and writes every run's curve and per-epoch seconds to a JSON
file; ``--replay`` then runs the policies over those curves offline, with
``hdnotebook.policy.replay.simulate_policy``: runs start in creation order when a slot frees, each
epoch takes the seconds it took when recorded, and the policy sees the values in time order, as
the engine would. It is the same policy code the engine runs, in seconds instead of minutes, for
iterating on a policy; the live run checks it.

``--cost`` times the policy itself (no processes): 4 runs logging round-robin until ``--values``
primary values in all, each value fed to the policy the way the engine feeds it. The same script
runs against an older checkout (it falls back to the older ``policy.check(run, histories, goal)``
API), which gives the before/after figure.

Design (why these defaults):
- 40 runs per experiment: HyperDrive experiments typically have 40-100. With 20, the first runs
  are judged against medians of a handful of runs (lenient), and one seed's draw of 20
  configurations decides much of the figure.
- 40 epochs: a policy that waits ``delay_evaluation=5`` intervals can save at most
  ``1 - 5/epochs`` of a run it stops (75 % at 20 epochs, 87.5 % at 40), and at 20 epochs the
  slow-learning configurations have not converged. MLPClassifier trains 200 epochs by default.
- breast_cancer rather than wine as the second dataset: wine validates on 54 samples, so one
  sample is 1.85 % accuracy (coarser than the 0.5 % tolerance), the best run reaches 100 % on
  every seed and about 40 % of the runs tie with it. breast_cancer validates on 171 samples.
- Concurrency 1, 2 and 4: with few runs at a time, a rule that compares only the runs that reached
  an interval drifts (stopped runs leave the comparison and good runs become "the worst"); the
  population rule of SPEC §4 must give the same figures at every concurrency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from typing import Any

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

#: (min saved, max loss) per policy; None: no saved target
TARGETS = {
    "median(1,5)": (0.35, 0.005),
    "asha(3,1)": (0.50, 0.01),
    "truncation(20,5)": (None, 0.005),
    "bandit(0.1,5)": (None, 0.005),
}


def policies(epochs: int) -> dict[str, Any]:
    return {
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


def run_live(
    workdir: str, dataset: str, policy: Any, seed: int, runs: int, epochs: int, concurrency: int
) -> Any:
    from hdnotebook.examples import train_mlp, train_sgd

    config = HyperDriveConfig(
        estimator=train_mlp if dataset == "digits" else train_sgd,
        hyperparameter_sampling=RandomParameterSampling(space(dataset, epochs), seed=seed),
        policy=policy, primary_metric_name="accuracy", primary_metric_goal="maximize",
        max_total_runs=runs, max_concurrent_runs=concurrency,
    )
    run = Experiment(Workspace(workdir), f"{dataset}-{seed}-{time.time_ns()}").submit(config)
    run.wait_for_completion()
    return run


def figures(values: dict[str, list[float]], epochs: int) -> tuple[int, float, int]:
    """Epochs consumed, best accuracy, runs cut short (fewer than ``epochs`` values)."""
    from hdnotebook._vocab import best_value

    consumed = sum(len(v) for v in values.values())
    best = max(best_value(v, "maximize") or 0.0 for v in values.values())
    cut = sum(1 for v in values.values() if len(v) < epochs)
    return consumed, best, cut


def curves_of(run: Any) -> list[dict[str, Any]]:
    """Every run's values and seconds per epoch, in creation order (for --record)."""
    children = sorted(run._store.child_runs(run.id), key=lambda c: c.number)
    out = []
    for child in children:
        rows = [m for m in run._store.metrics([child.id], "accuracy") if m.value is not None]
        times = [child.started or (rows[0].time if rows else 0.0)] + [m.time for m in rows]
        out.append({
            "values": [m.value for m in rows],
            "seconds": [max(b - a, 1e-3) for a, b in zip(times, times[1:])],
        })
    return out


# -- the table ---------------------------------------------------------------------------------
def report(table: dict[tuple[str, int, str], list[tuple[float, float, int, int]]], seeds: int, runs: int,
           epochs: int, mode: str, started: float) -> None:
    print(f"\n{mode}: medians over {seeds} seeds, {runs} runs x {epochs} epochs ({time.time() - started:.0f} s)")
    print(f"{'dataset':13s} {'conc':>4s} {'policy':17s} {'epochs':>7s} {'saved':>7s} {'stopped':>7s} "
          f"{'best acc delta':>15s}  target")
    verdicts = []
    for (dataset, concurrency, name), rows in sorted(table.items()):
        saved = statistics.median(r[0] for r in rows)
        delta = statistics.median(r[1] for r in rows)
        consumed = statistics.median(r[2] for r in rows)
        cut = statistics.median(r[3] for r in rows)
        verdict = ""
        if name in TARGETS:
            min_saved, max_loss = TARGETS[name]
            met = (min_saved is None or saved >= min_saved) and -delta <= max_loss + 1e-12
            verdict = "met" if met else "NOT met"
            verdicts.append(met)
        print(f"{dataset:13s} {concurrency:4d} {name:17s} {consumed:7.0f} {saved:7.1%} {cut:7.1f} "
              f"{delta * 100:+14.2f}%  {verdict}")
    print("targets at every concurrency: median(1,5) saves >= 35 % at <= 0.5 % loss; ASHA >= 50 % at "
          "<= 1 %; truncation and bandit <= 0.5 % loss")
    print(f"{sum(verdicts)} of {len(verdicts)} targets met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--datasets", default="digits,breast_cancer")
    parser.add_argument("--concurrency", default="1,2,4", help="max_concurrent_runs values, e.g. 1,2,4")
    parser.add_argument("--quick", action="store_true", help="1 seed, 10 runs, 12 epochs")
    parser.add_argument("--record", metavar="FILE", help="run the no-policy baselines and save the curves")
    parser.add_argument("--replay", metavar="FILE", help="run the policies offline over recorded curves")
    parser.add_argument("--cost", action="store_true", help="time the policy per primary value")
    parser.add_argument("--values", type=int, default=20000, help="--cost: primary values in all")
    args = parser.parse_args()
    if args.cost:
        return cost(args.values)
    if args.quick:
        args.seeds, args.runs, args.epochs = 1, 10, 12
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    started = time.time()
    table: dict[tuple[str, int, str], list[tuple[float, float, int, int]]] = {}

    if args.replay:
        from hdnotebook.policy.replay import simulate_policy

        recorded = json.load(open(args.replay))
        meta = recorded["meta"]
        for key, runs in recorded["curves"].items():
            dataset = key.rsplit("-", 1)[0]
            curves = {i: r["values"] for i, r in enumerate(runs)}
            seconds = {i: r["seconds"] for i, r in enumerate(runs)}
            base_epochs, base_best, _ = figures({str(i): v for i, v in curves.items()}, meta["epochs"])
            for concurrency in concurrencies:
                for name, policy in policies(meta["epochs"]).items():
                    result = simulate_policy(policy, curves, "maximize", concurrency, seconds)
                    best = result.best_value_kept or 0.0
                    saved = 1 - result.intervals_used / base_epochs
                    table.setdefault((dataset, concurrency, name), []).append(
                        (saved, best - base_best, result.intervals_used, len(result.stopped_early)))
                    print(f"  {key:15s} conc {concurrency} {name:17s} epochs {result.intervals_used:5d}  "
                          f"saved {saved:6.1%}  stopped {len(result.stopped_early):3d}  best {best:.4f} "
                          f"({best - base_best:+.4f})")
        report(table, meta["seeds"], meta["runs"], meta["epochs"], f"replay of {args.replay}", started)
        return

    record: dict[str, Any] = {"meta": {"seeds": args.seeds, "runs": args.runs, "epochs": args.epochs}, "curves": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            for seed in range(args.seeds):
                base = run_live(tmp, dataset, NoTerminationPolicy(), seed, args.runs, args.epochs, 2)
                base_epochs, base_best, _ = figures(base.primary_values(), args.epochs)
                print(f"  {dataset:13s} seed {seed} none: epochs {base_epochs}, best {base_best:.4f}", flush=True)
                if args.record:
                    record["curves"][f"{dataset}-{seed}"] = curves_of(base)
                    continue
                for concurrency in concurrencies:
                    for name, policy in policies(args.epochs).items():
                        run = run_live(tmp, dataset, policy, seed, args.runs, args.epochs, concurrency)
                        values = run.primary_values()
                        consumed, best, _ = figures(values, args.epochs)
                        stopped = len(run.replay(policy).stopped_early)
                        saved = 1 - consumed / base_epochs
                        table.setdefault((dataset, concurrency, name), []).append(
                            (saved, best - base_best, consumed, stopped))
                        print(f"  {dataset:13s} seed {seed} conc {concurrency} {name:17s} epochs {consumed:5d}  "
                              f"saved {saved:6.1%}  stopped {stopped:3d}/{args.runs}  best {best:.4f} "
                              f"({best - base_best:+.4f})", flush=True)
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(record, fh)
        print(f"recorded {len(record['curves'])} experiments to {args.record} ({time.time() - started:.0f} s)")
        return
    report(table, args.seeds, args.runs, args.epochs, "live", started)
    sys.stdout.flush()


def cost(total: int) -> None:
    """Seconds per primary value fed to each policy: 4 runs logging round-robin, ``total`` values."""
    import hdnotebook.policy as policy_module

    runs = 4
    for name, policy in [
        ("median(1,5)", MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)),
        ("bandit(0.1,5)", BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)),
        ("truncation(20,5)", TruncationSelectionPolicy(truncation_percentage=20, delay_evaluation=5)),
    ]:
        # rising side by side: no policy stops any of them, so every value is judged
        values = [(f"r{i % runs}", 0.5 + 1e-6 * i) for i in range(total)]
        started = time.perf_counter()
        if hasattr(policy, "tracker"):  # the engine's way since the population rule
            tracker = policy.tracker("maximize")
            for run_id, value in values:
                tracker.log(run_id, value)
        else:  # before: the whole histories at each value
            histories: dict[str, list[float]] = {}
            for run_id, value in values:
                histories.setdefault(run_id, []).append(value)
                policy.check(run_id, histories, "maximize")
        seconds = time.perf_counter() - started
        print(f"{name:17s} {total} values in {seconds:7.3f} s  ({total / seconds:9.0f} values/s)  "
              f"[{policy_module.__file__}]")


if __name__ == "__main__":
    main()
