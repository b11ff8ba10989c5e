"""Hyperparameter importance: right on objectives whose truth is known, and in line with Optuna."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from hdnotebook.insight import param_contour, param_importances
from hdnotebook.space import choice, loguniform, uniform


def _trials(space, objective, n, seed):
    rng = np.random.default_rng(seed)
    configs = [{name: expr.sample(rng) for name, expr in space.items()} for _ in range(n)]
    return configs, [objective(c) for c in configs]


def test_one_dominant_one_weak_one_irrelevant_parameter_rank_right_over_10_seeds_at_50_trials():
    space = {"irrelevant": uniform(0, 1), "dominant": loguniform(-7, -1), "weak": choice("a", "b", "c")}

    def objective(c):
        return 2.0 * (math.log(c["dominant"]) + 4) ** 2 / 9 + {"a": 0.0, "b": 0.3, "c": 0.15}[c["weak"]]

    rankings = []
    for seed in range(10):
        configs, values = _trials(space, objective, 50, seed)
        importances = param_importances(space, configs, values, seed=seed)
        assert math.isclose(sum(importances.values()), 1.0)
        assert all(v >= 0 for v in importances.values())
        rankings.append(list(importances))
    assert rankings.count(["dominant", "weak", "irrelevant"]) == 10, rankings


def test_same_trials_and_seed_give_the_same_importances_and_bad_values_are_left_out():
    space = {"x": uniform(0, 1), "y": uniform(0, 1)}
    configs, values = _trials(space, lambda c: c["x"], 30, 0)
    first = param_importances(space, configs, values, seed=4)
    assert first == param_importances(space, configs, values, seed=4)
    # A failed run (None) or a NaN value does not count; the answer is the one without them.
    with_bad = param_importances(space, configs + [{"x": 0.5, "y": 0.5}] * 2, values + [None, float("nan")], seed=4)
    assert with_bad == first


def test_a_flat_objective_shares_importance_equally_and_too_few_trials_is_a_clear_error():
    space = {"x": uniform(0, 1), "y": choice(1, 2)}
    configs, _ = _trials(space, lambda c: 0.0, 10, 1)
    assert param_importances(space, configs, [1.0] * 10) == {"x": 0.5, "y": 0.5}
    with pytest.raises(ValueError, match="at least 2 trials with a finite value, got 1"):
        param_importances(space, configs[:2], [1.0, None])
    with pytest.raises(ValueError, match="same length"):
        param_importances(space, configs, [1.0])


def test_ranking_agrees_with_optunas_fanova_on_the_same_trials():
    optuna = pytest.importorskip("optuna", reason="optuna (the test extra) gives the reference ranking")
    from scipy.stats import spearmanr

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"lr": loguniform(-7, -1), "depth": choice(2, 4, 8, 16), "drop": uniform(0, 0.5),
             "noise": uniform(0, 1), "act": choice("relu", "tanh", "gelu")}
    dists = {
        "lr": optuna.distributions.FloatDistribution(math.exp(-7), math.exp(-1), log=True),
        "depth": optuna.distributions.CategoricalDistribution([2, 4, 8, 16]),
        "drop": optuna.distributions.FloatDistribution(0, 0.5),
        "noise": optuna.distributions.FloatDistribution(0, 1),
        "act": optuna.distributions.CategoricalDistribution(["relu", "tanh", "gelu"]),
    }

    def objective(c):
        return (-0.15 * (math.log(c["lr"]) + 4) ** 2 + {2: 0, 4: 0.5, 8: 0.8, 16: 0.9}[c["depth"]]
                + 0.6 * c["drop"] + {"relu": 0.1, "tanh": 0.0, "gelu": 0.12}[c["act"]])

    rhos = []
    for seed in range(5):
        configs, values = _trials(space, objective, 50, seed)
        ours = param_importances(space, configs, values, seed=seed)
        study = optuna.create_study()
        for config, value in zip(configs, values):
            study.add_trial(optuna.trial.create_trial(params=config, distributions=dists, value=value))
        theirs = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
        rhos.append(spearmanr([ours[n] for n in space], [theirs[n] for n in space]).statistic)
        assert set(list(ours)[:2]) == {"lr", "depth"}  # the truth: their variances are 0.16 and 0.12
    assert np.median(rhos) >= 0.8, rhos


def _known_truth_trial(lr, units, spare):
    from hdnotebook import Run

    run = Run.get_context()
    value = 1.0 - 0.2 * (math.log(lr) + 4) ** 2 / 9
    for step in range(3):
        run.log("accuracy", value * (step + 1) / 3)
    if units == 64 and spare > 0.9:
        raise RuntimeError("a failed run: in the table with its error, not in the importances")


def test_a_finished_experiment_exports_a_dataframe_and_ranks_its_parameters(tmp_path):
    pytest.importorskip("pandas", reason="to_dataframe needs pandas (the test extra installs it)")
    from hdnotebook import (Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling,
                            Workspace)

    config = HyperDriveConfig(
        estimator=_known_truth_trial,
        hyperparameter_sampling=RandomParameterSampling(
            {"lr": loguniform(-7, -1), "units": choice(32, 64), "spare": uniform(0, 1)}, seed=2),
        policy=NoTerminationPolicy(), primary_metric_name="accuracy", primary_metric_goal="maximize",
        max_total_runs=40, max_concurrent_runs=2)
    run = Experiment(Workspace(tmp_path / "ws"), "insight").submit(config)
    run.wait_for_completion()
    df = run.to_dataframe()
    children = run.get_children()
    assert len(df) == len(children) == 40
    assert list(df.columns) == ["run_id", "number", "status", "params_lr", "params_units", "params_spare",
                                "best_value", "last_value", "intervals", "duration_s", "stop_reason", "error"]
    failed = df[df.status == "Failed"]
    assert len(failed) == sum(c.get_status() == "Failed" for c in children) >= 1
    assert failed.error.str.contains("a failed run").all()
    completed = df[df.status == "Completed"]
    assert (completed.intervals == 3).all() and (completed.best_value == completed.last_value).all()
    best = run.get_best_run_by_primary_metric()
    assert df.loc[df.best_value.idxmax(), "run_id"] == best.id
    importances = run.get_param_importances()
    assert list(importances)[0] == "lr" and importances["lr"] > 0.8
    # the contour the widget draws is the one Python gives, over the two most important parameters
    from hdnotebook.widgets.run_details import kernel_view_model

    contour = run.get_param_contour()
    assert [contour["x"]["name"], contour["y"]["name"]] == list(importances)[:2]
    assert contour["x"]["log"] is True and contour["x"]["values"][0] == pytest.approx(completed.params_lr.min())
    assert len(contour["trials"]) == len(completed)
    meta = kernel_view_model(run._store, run.id).meta()
    assert meta["contour"] == {**contour, "trials": len(contour["trials"])}  # the points are the rows


def test_contour_is_linear_between_trials_nearest_outside_and_on_the_spaces_axes():
    space = {"a": uniform(0, 1), "lr": loguniform(-7, -1), "act": choice("relu", "tanh", "gelu")}
    rng = np.random.default_rng(5)
    configs = [{n: e.sample(rng) for n, e in space.items()} for _ in range(40)]
    plane = lambda c: 3.0 * c["a"] - 2.0 * math.log10(c["lr"])  # noqa: E731 - linear in the grid's coordinates
    values = [plane(c) for c in configs]
    grid = param_contour(space, configs, values, ["a", "lr"], size=15)
    assert grid["x"] == {"name": "a", "values": pytest.approx(list(np.linspace(min(c["a"] for c in configs),
                         max(c["a"] for c in configs), 15))), "log": False, "categorical": False}
    lrs = grid["y"]["values"]
    assert grid["y"]["log"] and lrs[0] == pytest.approx(min(c["lr"] for c in configs))
    assert np.allclose(np.diff(np.log10(lrs)), np.diff(np.log10(lrs))[0])  # geometric: a log axis
    from scipy.spatial import Delaunay

    hull = Delaunay(np.array([[c["a"], math.log10(c["lr"])] for c in configs]))
    inside = outside = 0
    for j, lr in enumerate(lrs):
        for i, a in enumerate(grid["x"]["values"]):
            z = grid["z"][j][i]
            if hull.find_simplex([a, math.log10(lr)]) >= 0:  # a plane is interpolated exactly
                inside += 1
                assert z == pytest.approx(plane({"a": a, "lr": lr}), abs=1e-9)
            else:  # outside the trials' hull: the mean of its neighbours (one past the edge: itself)
                outside += 1
                rows, cols = len(lrs), len(grid["x"]["values"])
                near = [grid["z"][min(max(j + dj, 0), rows - 1)][min(max(i + di, 0), cols - 1)]
                        for dj, di in ((-1, 0), (1, 0), (0, -1), (0, 1))]
                assert z == pytest.approx(sum(near) / 4, abs=1e-9)
    assert inside > 100 and outside > 0
    assert min(values) <= grid["zmin"] == min(min(r) for r in grid["z"]) and grid["zmax"] <= max(values)
    # a choice axis: its options, in order; a point of each option that was tried takes its mean
    by_act = param_contour(space, configs, values, ["act", "a"], size=4)
    assert by_act["x"] == {"name": "act", "values": ["relu", "tanh", "gelu"], "log": False, "categorical": True}
    assert len(by_act["z"]) == 4 and all(len(row) == 3 for row in by_act["z"])
    assert len(by_act["trials"]) == 40


def test_contour_needs_three_trials_and_two_parameters_of_the_space():
    space = {"x": uniform(0, 1), "y": uniform(0, 1)}
    configs = [{"x": 0.1, "y": 0.2}, {"x": 0.5, "y": 0.9}, {"x": 0.7, "y": 0.3}]
    with pytest.raises(ValueError, match="at least 3 trials with a finite value, got 1"):
        param_contour(space, configs, [1.0, None, float("nan")], ["x", "y"])
    with pytest.raises(ValueError, match=r"two different parameters of the space \['x', 'y'\], got \['x', 'z'\]"):
        param_contour(space, configs, [1.0, 2.0, 3.0], ["x", "z"])
    with pytest.raises(ValueError, match="two different parameters"):
        param_contour(space, configs, [1.0, 2.0, 3.0], ["x", "x"])
    with pytest.raises(ValueError, match="trials with different values of 'y', all have 0.5"):
        param_contour(space, [{"x": v, "y": 0.5} for v in (0.1, 0.2, 0.3)], [1.0, 2.0, 3.0], ["x", "y"])
    # trials on a line: no triangle to interpolate in; each cell takes the nearest trial's value
    line = param_contour(space, [{"x": v, "y": v} for v in (0.1, 0.2, 0.3)], [1.0, 2.0, 3.0], ["x", "y"], size=3)
    z = line["z"]
    assert [z[0][0], z[1][1], z[2][2], z[0][2], z[2][0]] == [1.0, 2.0, 3.0, 2.0, 2.0]  # on the line; nearest off it


def _lane_trial(x):
    from hdnotebook import Run

    run = Run.get_context()
    for step in range(3):
        run.log("score", x * (step + 1))
        time.sleep(0.1 + 0.3 * x)  # uneven durations: the lanes do not simply alternate


def _submit_lane_experiment(tmp_path, seed: int, total: int, concurrent: int):
    """An experiment of ``total`` :func:`_lane_trial` runs, ``concurrent`` at a time."""
    from hdnotebook import (Experiment, HyperDriveConfig, NoTerminationPolicy, RandomParameterSampling,
                            Workspace)

    config = HyperDriveConfig(
        estimator=_lane_trial, hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=seed),
        policy=NoTerminationPolicy(), primary_metric_name="score", primary_metric_goal="maximize",
        max_total_runs=total, max_concurrent_runs=concurrent)
    return Experiment(Workspace(tmp_path / "ws"), "lanes").submit(config)


def _overlapping_pairs_on_distinct_lanes(rows) -> int:
    """How many pairs of ``rows`` ran at the same time; asserts each such pair had two lanes."""
    overlapping = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if a.started < b.ended and b.started < a.ended:
                overlapping += 1
                assert a.details["lane"] != b.details["lane"], (a.number, b.number)
    return overlapping


def test_each_trial_records_its_lane_and_no_two_overlapping_trials_share_one(tmp_path):
    from hdnotebook.run_view import RunDetailsModel

    run = _submit_lane_experiment(tmp_path, seed=1, total=6, concurrent=2)
    run.wait_for_completion()
    rows = [run._store.run(c.id) for c in run.get_children()]
    assert [r.status for r in rows] == ["Completed"] * 6
    lanes = {r.id: r.details["lane"] for r in rows}
    assert set(lanes.values()) == {0, 1}
    assert _overlapping_pairs_on_distinct_lanes(rows) >= 3  # two at a time most of the way
    # the widget's rows carry the lane (its timeline draws by them)
    state = RunDetailsModel(run._store, run.id).state()
    assert {r["id"]: r["lane"] for r in state["runs"].values()} == lanes


def test_a_lane_started_when_the_concurrency_is_raised_mid_run_takes_the_free_slot(tmp_path):
    run = _submit_lane_experiment(tmp_path, seed=2, total=9, concurrent=1)
    deadline = time.monotonic() + 60
    while sum(c.get_status() == "Completed" for c in run.get_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    run.set_limits(max_concurrent_runs=2)  # (no more: the loky pool has a worker per core, 2 on a small machine)
    run.wait_for_completion()
    rows = sorted((run._store.run(c.id) for c in run.get_children()), key=lambda r: r.started)
    assert [r.status for r in rows] == ["Completed"] * 9
    lanes = [r.details["lane"] for r in rows]
    assert lanes[:2] == [0, 0] and set(lanes) == {0, 1}, lanes
    assert _overlapping_pairs_on_distinct_lanes(rows) >= 2  # two at a time after the change
