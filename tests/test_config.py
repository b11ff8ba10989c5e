"""HyperDriveConfig (SPEC §3, §5, §6): validation, the default policy and max_total_runs."""

from __future__ import annotations

import math

import pytest

from hdnotebook.config import HyperDriveConfig, HyperDriveRunConfig, PrimaryMetricGoal
from hdnotebook.estimator import ScriptRunConfig
from hdnotebook.policy import BanditPolicy, MedianStoppingPolicy, NoTerminationPolicy
from hdnotebook.sampling import GridParameterSampling, ParameterSampling, RandomParameterSampling
from hdnotebook.space import choice, loguniform


def train(learning_rate: float = 0.1, batch_size: int = 16) -> float:
    return learning_rate


class _BayesianLike(ParameterSampling):
    """Stands in for the Bayesian sampler: only its name matters to the default-policy rule."""

    name = "bayesian"

    def suggest(self, trials, goal="maximize", count=1):
        return []


CONTINUOUS = {"learning_rate": loguniform(-6, -1), "batch_size": choice(16, 32)}
GRID = {"a": choice(1, 2, 3), "b": choice(16, 32)}


def _config(**overrides) -> HyperDriveConfig:
    kwargs = {
        "estimator": train,
        "hyperparameter_sampling": RandomParameterSampling(CONTINUOUS, seed=0),
        "primary_metric_name": "accuracy",
        "primary_metric_goal": PrimaryMetricGoal.MAXIMIZE,
        "max_total_runs": 20,
    }
    kwargs.update(overrides)
    return HyperDriveConfig(**kwargs)


def test_a_valid_config_keeps_what_it_was_given():
    policy = BanditPolicy(slack_factor=0.1)
    config = _config(policy=policy, max_concurrent_runs=4, max_duration_minutes=0.5)
    assert config.estimator is train
    assert config.policy is policy
    assert (config.primary_metric_name, config.goal) == ("accuracy", "maximize")
    assert (config.max_total_runs, config.max_concurrent_runs, config.max_duration_minutes) == (20, 4, 0.5)
    assert config.max_retries == 0


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"max_total_runs": 0}, ValueError, r"max_total_runs must be from 1 to 1000, got 0"),
        ({"max_total_runs": 1001}, ValueError, r"max_total_runs must be from 1 to 1000, got 1001"),
        ({"max_total_runs": 10.0}, TypeError, r"max_total_runs must be an int from 1 to 1000, got 10.0"),
        ({"max_total_runs": True}, TypeError, r"max_total_runs must be an int"),
        ({"max_total_runs": "10"}, TypeError, r"max_total_runs must be an int from 1 to 1000, got '10'"),
        ({"max_concurrent_runs": 0}, ValueError, r"max_concurrent_runs must be from 1 to 100, got 0"),
        ({"max_concurrent_runs": 101}, ValueError, r"max_concurrent_runs must be from 1 to 100, got 101"),
        ({"max_concurrent_runs": 2.5}, TypeError, r"max_concurrent_runs must be an int"),
        ({"max_duration_minutes": 0}, ValueError, r"max_duration_minutes must be a finite number > 0 \(0.5 = 30 s\), got 0"),
        ({"max_duration_minutes": -1}, ValueError, r"max_duration_minutes must be a finite number > 0"),
        ({"max_duration_minutes": math.nan}, ValueError, r"max_duration_minutes must be a finite number > 0"),
        ({"max_duration_minutes": math.inf}, ValueError, r"max_duration_minutes must be a finite number > 0"),
        ({"max_duration_minutes": "5"}, TypeError, r"max_duration_minutes must be a number of minutes"),
        ({"max_duration_minutes": True}, TypeError, r"max_duration_minutes must be a number of minutes"),
        ({"max_retries": -1}, ValueError, r"max_retries must be from 0 to 100, got -1"),
        ({"gpus_per_trial": -1}, ValueError, r"gpus must be >= 0, got -1"),
        ({"gpus_per_trial": 1.5}, ValueError, r"gpus above 1 must be a whole number"),
        ({"primary_metric_goal": "maximise"}, ValueError, r"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE .*got 'maximise'"),
        ({"primary_metric_goal": None}, ValueError, r"primary_metric_goal is required"),
        ({"primary_metric_goal": 1}, ValueError, r"primary_metric_goal must be"),
        ({"primary_metric_name": ""}, ValueError, r"primary_metric_name must be the exact name the training code logs.*got ''"),
        ({"primary_metric_name": None}, ValueError, r"primary_metric_name must be"),
        ({"estimator": None}, TypeError, r"estimator must be a Python function .*got None"),
        ({"estimator": "train.py"}, TypeError, r"estimator must be a Python function .*got 'train.py'"),
        ({"hyperparameter_sampling": CONTINUOUS}, TypeError, r"hyperparameter_sampling must be RandomParameterSampling"),
        ({"hyperparameter_sampling": None}, TypeError, r"hyperparameter_sampling must be .*got None"),
        ({"policy": "bandit"}, TypeError, r"policy must be BanditPolicy, .* or None; got 'bandit'"),
        ({"policy": BanditPolicy}, TypeError, r"policy must be BanditPolicy"),
    ],
)
def test_bad_settings_are_rejected_with_a_message_naming_them(overrides, error, message):
    with pytest.raises(error, match=message):
        _config(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_total_runs": 1},
        {"max_total_runs": 1000},
        {"max_concurrent_runs": 1},
        {"max_concurrent_runs": 100},
        {"max_duration_minutes": 0.5},
        {"max_duration_minutes": 600},
        {"gpus_per_trial": 0.5},
        {"gpus_per_trial": 2},
    ],
)
def test_limits_at_the_edges_of_their_range_are_accepted(overrides):
    config = _config(**overrides)
    for name, value in overrides.items():
        assert getattr(config, name) == value


@pytest.mark.parametrize("goal", ["maximize", "MAXIMIZE", "Maximize", PrimaryMetricGoal.MAXIMIZE])
def test_primary_metric_goal_accepts_any_case_and_the_enum(goal):
    assert PrimaryMetricGoal(getattr(goal, "value", goal)) is PrimaryMetricGoal.MAXIMIZE
    assert _config(primary_metric_goal=goal).primary_metric_goal is PrimaryMetricGoal.MAXIMIZE


def test_primary_metric_goal_minimize_and_its_string_form():
    assert _config(primary_metric_goal="MINIMIZE").goal == "minimize"
    assert str(PrimaryMetricGoal.MINIMIZE) == "minimize"


def test_default_policy_is_median_stopping_every_interval_after_five():
    assert _config().policy == MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)


def test_default_policy_under_bayesian_sampling_is_no_termination():
    config = _config(hyperparameter_sampling=_BayesianLike(CONTINUOUS, seed=0))
    assert config.policy == NoTerminationPolicy()


def test_an_explicit_policy_is_kept_even_under_bayesian_sampling():
    policy = BanditPolicy(slack_amount=0.1)
    assert _config(hyperparameter_sampling=_BayesianLike(CONTINUOUS), policy=policy).policy is policy


@pytest.mark.parametrize(
    ("sampling", "max_total_runs", "max_duration_minutes", "resolved"),
    [
        (GridParameterSampling(GRID), 100, None, 6),  # the grid is smaller
        (GridParameterSampling(GRID), None, None, 6),  # unset: the size of the grid
        (GridParameterSampling(GRID), 4, None, 4),
        (RandomParameterSampling(GRID), 100, None, 100),  # random may repeat configurations
        (RandomParameterSampling(CONTINUOUS), 20, None, 20),
        (RandomParameterSampling(CONTINUOUS), None, 1.5, 1000),  # until the time is up
    ],
)
def test_max_total_runs_resolution(sampling, max_total_runs, max_duration_minutes, resolved):
    config = _config(
        hyperparameter_sampling=sampling,
        max_total_runs=max_total_runs,
        max_duration_minutes=max_duration_minutes,
    )
    assert config.max_total_runs == resolved


def test_max_total_runs_is_required_for_a_continuous_space_without_a_duration():
    with pytest.raises(ValueError, match=r"max_total_runs is required .*or give max_duration_minutes"):
        _config(max_total_runs=None)


def test_gpus_per_trial_defaults_to_the_estimators_request():
    script = ScriptRunConfig(".", "train.py", arguments=["--data-folder", "d"], gpus=1)
    assert _config(estimator=script).gpus_per_trial == 1
    assert _config(estimator=script, gpus_per_trial=0).gpus_per_trial == 0
    assert _config().gpus_per_trial == 0


def test_hyperdrive_run_config_is_the_same_class():
    assert HyperDriveRunConfig is HyperDriveConfig
