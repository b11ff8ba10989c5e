"""Samplers side by side: hdnotebook Bayesian and Random against Optuna's GPSampler and TPESampler.

Each sampler runs sequentially (one trial at a time, every result known before the next
suggestion) on three minimisation problems with known optima:

* ``branin``   Branin-Hoo on x1 in [-5, 10], x2 in [0, 15] (uniform bounds), f* = 0.397887
* ``hartmann6`` Hartmann-6 on [0, 1]^6, f* = -3.32237
* ``mixed``    a smooth "validation loss" over a log-float, a float, a log-integer
               (qloguniform with an int q) and a 4-way categorical, f* = 0

It prints, for each problem, the median simple regret (best value so far minus f*) over the seeds at
each budget, the wall time per suggestion, the timing of hdnotebook's Bayesian ``suggest`` at 100,
300 and 1000 finished trials (synthetic histories), and the ratios against Optuna's GPSampler.

    python bench/samplers.py            # 20 seeds, budgets 20,50,100 (~30 min on 2 cores)
    python bench/samplers.py --quick    # 3 seeds, budgets 20,50 (~2 min)

20 seeds by default: on Hartmann-6 a run at 50 trials has either found the global basin (regret
~1e-3) or not (regret ~0.1 and worse), for every GP sampler, so a median over 10 seeds turns on
whether 6 or 7 of them found it: a coin flip, not a measurement.

Optuna (and torch, for its GPSampler) are imported lazily: they are a bench extra. A sampler whose
package is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hdnotebook.sampling.base import TrialRecord  # noqa: E402
from hdnotebook.sampling.bayesian import BayesianParameterSampling  # noqa: E402
from hdnotebook.sampling.random import RandomParameterSampling  # noqa: E402
from hdnotebook.space import choice, loguniform, qloguniform, uniform  # noqa: E402


# ---------------------------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------------------------
@dataclass
class Problem:
    name: str
    space: dict[str, Any]
    f: Callable[[dict[str, Any]], float]
    optimum: float


def _branin(c: dict[str, Any]) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(c: dict[str, Any]) -> float:
    x = np.array([c[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


# mixed: the best learning rate and a floor depend on the optimiser; adam at lr = 10**-2.5,
# dropout 0.2 and 128 units is the optimum, f = 0 there.
_OPT_SHIFT = {"sgd": 0.9, "adam": 0.0, "rmsprop": 0.3, "adagrad": 0.6}
_OPT_FLOOR = {"sgd": 0.12, "adam": 0.0, "rmsprop": 0.04, "adagrad": 0.25}


def _mixed(c: dict[str, Any]) -> float:
    a = math.log10(c["lr"]) - (-2.5 + _OPT_SHIFT[c["optimizer"]])
    b = c["dropout"] - 0.2
    u = math.log2(c["units"]) - 7.0
    quad = 0.5 * a * a + 4.0 * b * b + 0.1 * a * b + 0.05 * u * u
    return math.log1p(quad) + _OPT_FLOOR[c["optimizer"]]


PROBLEMS = {
    "branin": Problem("branin", {"x1": uniform(-5, 10), "x2": uniform(0, 15)}, _branin, 0.397887),
    "hartmann6": Problem(
        "hartmann6", {f"x{i}": uniform(0, 1) for i in range(1, 7)}, _hartmann6, -3.32237
    ),
    "mixed": Problem(
        "mixed",
        {
            "lr": loguniform(math.log(1e-4), math.log(1e-1)),
            "dropout": uniform(0.0, 0.5),
            "units": qloguniform(math.log(8), math.log(512), 1),
            "optimizer": choice("sgd", "adam", "rmsprop", "adagrad"),
        },
        _mixed,
        0.0,
    ),
}


# ---------------------------------------------------------------------------------------------
# runners: each returns (values in trial order, seconds per suggestion)
# ---------------------------------------------------------------------------------------------
def run_hdnotebook(cls: type, problem: Problem, seed: int, budget: int) -> tuple[list[float], list[float]]:
    sampler = cls(problem.space, seed=seed)
    trials: list[TrialRecord] = []
    values, times = [], []
    for i in range(budget):
        t0 = time.perf_counter()
        config = sampler.suggest(trials, goal="minimize", count=1)[0]
        times.append(time.perf_counter() - t0)
        value = problem.f(config)
        trials.append(TrialRecord(number=i, params=config, state="completed", value=value))
        values.append(value)
    return values, times


def _optuna_params(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """Map hdnotebook expressions to Optuna's suggest_* calls."""
    out: dict[str, Any] = {}
    for name, expr in space.items():
        kind = expr.kind
        if kind == "uniform":
            out[name] = trial.suggest_float(name, expr.low, expr.high)
        elif kind == "loguniform":
            out[name] = trial.suggest_float(name, math.exp(expr.low), math.exp(expr.high), log=True)
        elif kind == "qloguniform" and expr._int_valued and expr.q == 1:
            lo, hi = round(math.exp(expr.low)), round(math.exp(expr.high))
            out[name] = trial.suggest_int(name, lo, hi, log=True)
        elif kind == "choice":
            out[name] = trial.suggest_categorical(name, list(expr.values))
        else:  # pragma: no cover - the bench spaces use the kinds above only
            raise ValueError(f"no Optuna mapping for {expr!r}")
    return out


def run_optuna(which: str, problem: Problem, seed: int, budget: int) -> tuple[list[float], list[float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if which == "gp":
            sampler = optuna.samplers.GPSampler(seed=seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    values, times = [], []
    for _ in range(budget):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = study.ask()
            params = _optuna_params(trial, problem.space)
        times.append(time.perf_counter() - t0)
        value = problem.f(params)
        study.tell(trial, value)
        values.append(value)
    return values, times


def _available(which: str) -> str | None:
    try:
        import optuna  # noqa: F401

        if which == "gp":
            import torch  # noqa: F401
    except ImportError as exc:
        return f"skipped ({exc.name} is not installed: pip install optuna torch)"
    return None


SAMPLERS: dict[str, Callable[[Problem, int, int], tuple[list[float], list[float]]]] = {
    "hdn-bayes": lambda p, s, b: run_hdnotebook(BayesianParameterSampling, p, s, b),
    "hdn-random": lambda p, s, b: run_hdnotebook(RandomParameterSampling, p, s, b),
    "optuna-gp": lambda p, s, b: run_optuna("gp", p, s, b),
    "optuna-tpe": lambda p, s, b: run_optuna("tpe", p, s, b),
}


# ---------------------------------------------------------------------------------------------
# timing at many finished trials
# ---------------------------------------------------------------------------------------------
def time_at_history(sizes: list[int], repeats: int) -> dict[int, tuple[float, float, float]]:
    """Median seconds of one Bayesian suggestion after ``n`` finished trials, on Hartmann-6 and mixed.

    Returns ``n -> (median fresh sampler, median same sampler (memoised fits), median exact GP)``
    where "fresh" builds a new sampler for each call (a hyperparameter fit every time) and "exact"
    conditions on every trial (no subset) - exact is timed only up to 300 trials plus once at 1000.
    """
    out = {}
    problem = PROBLEMS["hartmann6"]
    for n in sizes:
        rng = np.random.default_rng(n)
        trials = []
        for i in range(n + repeats):
            config = {name: expr.sample(rng) for name, expr in problem.space.items()}
            trials.append(TrialRecord(i, config, "completed", problem.f(config)))
        fresh, same, exact = [], [], []
        sampler = BayesianParameterSampling(problem.space, seed=0)
        for r in range(repeats):
            history = trials[: n + r]
            t0 = time.perf_counter()
            BayesianParameterSampling(problem.space, seed=0).suggest(history, "minimize")
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sampler.suggest(history, "minimize")
            same.append(time.perf_counter() - t0)
        for r in range(min(repeats, 2)):
            big = BayesianParameterSampling(problem.space, seed=0, max_model_points=10**6, max_fit_points=10**6)
            t0 = time.perf_counter()
            big.suggest(trials[: n + r], "minimize")
            exact.append(time.perf_counter() - t0)
        out[n] = (statistics.median(fresh), statistics.median(same), statistics.median(exact))
    return out


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.2e}" if abs(x) < 1e-2 or abs(x) >= 1e3 else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="seeds per problem and sampler (default 20)")
    parser.add_argument("--budgets", default="20,50,100", help="comma-separated trial budgets")
    parser.add_argument("--quick", action="store_true", help="3 seeds, budgets 20,50, short timing")
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated problems")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated samplers")
    args = parser.parse_args(argv)
    seeds = 3 if args.quick else args.seeds
    budgets = [20, 50] if args.quick else sorted(int(b) for b in args.budgets.split(","))
    budget = max(budgets)
    samplers = [s for s in args.samplers.split(",") if s]
    problems = [PROBLEMS[p] for p in args.problems.split(",") if p]

    skipped = {}
    for name in samplers:
        if name.startswith("optuna-"):
            why = _available(name.split("-")[1])
            if why:
                skipped[name] = why
    samplers = [s for s in samplers if s not in skipped]
    for name, why in skipped.items():
        print(f"{name}: {why}")

    print(f"seeds={seeds} budgets={budgets} (sequential: one trial at a time)\n")
    # regret[problem][sampler] -> array (seeds, budgets); times[problem][sampler] -> list of seconds
    regret: dict[str, dict[str, np.ndarray]] = {}
    times: dict[str, dict[str, list[float]]] = {}
    started = time.perf_counter()
    for problem in problems:
        regret[problem.name], times[problem.name] = {}, {}
        for name in samplers:
            rows, ts = [], []
            for seed in range(seeds):
                values, t = SAMPLERS[name](problem, seed, budget)
                best = np.minimum.accumulate(np.array(values))
                rows.append([best[b - 1] - problem.optimum for b in budgets])
                ts.extend(t)
            regret[problem.name][name] = np.maximum(np.array(rows), 0.0)
            times[problem.name][name] = ts
        _print_problem(problem.name, budgets, regret[problem.name], times[problem.name])
    print(f"(search runs took {time.perf_counter() - started:.0f} s)\n")

    if "optuna-gp" in samplers and "hdn-bayes" in samplers:
        print("hdn-bayes vs optuna-gp (median regret ratio per budget, < 1 is better; time ratio)")
        for problem in problems:
            r_b, r_o = regret[problem.name]["hdn-bayes"], regret[problem.name]["optuna-gp"]
            ratios = []
            for j, _ in enumerate(budgets):
                mb, mo = float(np.median(r_b[:, j])), float(np.median(r_o[:, j]))
                ratios.append(mb / mo if mo > 0 else (1.0 if mb == 0 else math.inf))
            tb = statistics.median(times[problem.name]["hdn-bayes"])
            to = statistics.median(times[problem.name]["optuna-gp"])
            mtb = statistics.fmean(times[problem.name]["hdn-bayes"])
            mto = statistics.fmean(times[problem.name]["optuna-gp"])
            cells = "  ".join(f"@{b}: {_fmt(r)}" for b, r in zip(budgets, ratios))
            print(
                f"  {problem.name:10s} regret ratio {cells}   time ratio median {tb / to:.3f}"
                f"  mean {mtb / mto:.3f}"
            )
        print()

    sizes = [100, 300] if args.quick else [100, 300, 1000]
    repeats = 3 if args.quick else 7
    print(f"hdn-bayes suggest time at n finished trials (Hartmann-6, median of {repeats})")
    print("      n   fresh sampler   same sampler   exact GP (no subset)   subset / exact")
    for n, (fresh, same, exact) in time_at_history(sizes, repeats).items():
        print(f"  {n:5d}   {fresh * 1e3:10.1f} ms   {same * 1e3:9.1f} ms   {exact * 1e3:15.1f} ms"
              f"   {fresh / exact:10.3f}")
    return 0


def _print_problem(name: str, budgets: list[int], regret: dict[str, np.ndarray], times: dict[str, list[float]]) -> None:
    print(f"== {name}: median simple regret over seeds (and wall time per suggestion)")
    header = "  sampler      " + "".join(f"{'@' + str(b):>11s}" for b in budgets) + "   median ms   mean ms"
    print(header)
    for sampler, r in regret.items():
        cells = "".join(f"{_fmt(float(np.median(r[:, j]))):>11s}" for j in range(len(budgets)))
        t = times[sampler]
        print(f"  {sampler:12s} {cells}   {statistics.median(t) * 1e3:9.2f}   {statistics.fmean(t) * 1e3:7.2f}")
    print()


if __name__ == "__main__":
    sys.exit(main())
