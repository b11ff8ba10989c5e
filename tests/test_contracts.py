"""Contracts every sampler and every policy keeps (the engine, resume and replay rely on them):

- samplers: the same seed and history give the same proposals; every proposal lies inside the
  space; a NaN metric counts as the worst value (same proposals as with the worst value itself);
- policies: the same values give the same decisions; a run that logs NaN counts as worst (it is
  the one stopped); a replay of a finished experiment's stored values stops exactly the runs the
  live policy stopped.
"""

from __future__ import annotations

import math
import time

import pytest

from hdnotebook import (
    ASHAPolicy,
    BanditPolicy,
    BayesianParameterSampling,
    Experiment,
    GridParameterSampling,
    HyperbandPolicy,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    Run,
    SobolParameterSampling,
    TruncationSelectionPolicy,
    Workspace,
    choice,
    loguniform,
    quniform,
    uniform,
)
from hdnotebook.sampling.base import TrialRecord, worst_value

MIXED = {"x": uniform(-1, 1), "lr": loguniform(-5, -1), "layers": choice(1, 2, 3), "units": quniform(8, 64, 8)}
CHOICES = {"layers": choice(1, 2, 3), "act": choice("relu", "tanh"), "units": choice(16, 32)}

SAMPLERS = {
    "random": lambda seed: RandomParameterSampling(MIXED, seed=seed),
    "grid": lambda seed: GridParameterSampling(CHOICES, seed=seed),
    "sobol": lambda seed: SobolParameterSampling(MIXED, seed=seed),
    "bayesian": lambda seed: BayesianParameterSampling(MIXED, seed=seed, n_initial_points=4),
}

POLICIES = {
    "bandit": lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=1),
    "median": lambda: MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=1, min_samples_required=2),
    "truncation": lambda: TruncationSelectionPolicy(truncation_percentage=30, evaluation_interval=1),
    "none": lambda: NoTerminationPolicy(),
    "asha": lambda: ASHAPolicy(reduction_factor=2, min_resource=1, max_resource=8),
    "hyperband": lambda: HyperbandPolicy(reduction_factor=2, min_resource=1, max_resource=8),
}


def _history(name, values):
    """Finished trials drawn by the sampler itself, with the given values."""
    sampler = SAMPLERS[name](7)
    records = []
    for i, value in enumerate(values):
        params = sampler.suggest(records, "maximize", 1)[0]
        records.append(TrialRecord(number=i, params=params, state="completed", value=value, intervals=1,
                                   curve=(value,)))
    return records


# -- samplers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_sampler_gives_the_same_proposals_for_the_same_seed_and_history(name):
    history = _history(name, [0.1 * i for i in range(8)])
    first = SAMPLERS[name](11).suggest(history, "maximize", 3)
    again = SAMPLERS[name](11).suggest(history, "maximize", 3)
    assert first == again and len(first) == 3


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_every_proposal_lies_inside_the_space(name, goal):
    sampler = SAMPLERS[name](3)
    space = sampler.parameter_space
    records = []
    for i in range(12):
        params = sampler.suggest(records, goal, 1)[0]
        assert set(params) == set(space)
        for key, value in params.items():
            assert space[key].contains(value), f"{name}: {key}={value!r} is outside {space[key]!r}"
        records.append(TrialRecord(number=i, params=params, state="completed", value=math.sin(i), intervals=1))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_a_nan_metric_counts_as_the_worst_value(name, goal):
    values = [0.3, float("nan"), 0.7, 0.2, float("nan"), 0.5, 0.9, 0.4]
    with_nan = _history(name, values)
    worst = [TrialRecord(r.number, r.params, r.state, worst_value(goal) if math.isnan(r.value) else r.value,
                         r.intervals) for r in with_nan]
    assert SAMPLERS[name](5).suggest(with_nan, goal, 2) == SAMPLERS[name](5).suggest(worst, goal, 2)


# -- policies ----------------------------------------------------------------------------------
def _events(nan_run=None):
    """Six runs of eight intervals, interleaved; ``nan_run`` logs NaN throughout."""
    curves = {f"r{k}": [0.5 + 0.05 * k + 0.01 * i for i in range(8)] for k in range(6)}
    if nan_run is not None:
        curves[nan_run] = [float("nan")] * 8
    return [(rid, curve[i]) for i in range(8) for rid, curve in curves.items()]


def _decisions(policy, events):
    tracker = policy.tracker("maximize")
    out = []
    for rid, value in events:
        decision = tracker.log(rid, value)
        if decision is not None:
            out.append((rid, decision.interval, decision.reason))
    return out


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_policy_decides_the_same_on_the_same_values(name):
    events = _events()
    assert _decisions(POLICIES[name](), events) == _decisions(POLICIES[name](), events)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_run_logging_nan_counts_as_the_worst(name):
    stopped = {rid for rid, _, _ in _decisions(POLICIES[name](), _events(nan_run="r_nan"))}
    if name == "none":
        assert stopped == set()
    else:
        assert "r_nan" in stopped  # the NaN run is judged worst, never spared
        assert "r5" not in stopped  # and it never made the best run look bad


def climb(x):
    run = Run.get_context()
    for i in range(6):
        run.log("score", x * (1 + i) / 6)
        time.sleep(0.01)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_a_replay_of_a_finished_experiment_agrees_with_the_live_policy(tmp_path, name):
    config = HyperDriveConfig(
        estimator=climb,
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}, seed=4),
        policy=POLICIES[name](),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=10,
        max_concurrent_runs=2,
    )
    run = Experiment(Workspace(tmp_path / "ws"), "exp").submit(config, backend="threading")
    run.wait_for_completion()
    assert run.get_status() == "Completed"
    live = set()
    for child in run.get_children():
        stop = child.get_details()["properties"].get("stop")
        if isinstance(stop, dict) and stop.get("policy"):
            live.add(child.id)
    assert set(run.replay(POLICIES[name]()).stopped) == live
    assert bool(live) == (name != "none")  # the policy did stop runs here: the agreement means something
