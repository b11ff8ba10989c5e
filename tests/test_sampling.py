"""Samplers (SPEC §2): random, grid and Sobol, on hand-built trial histories."""

from __future__ import annotations

import pytest

from hdnotebook.sampling import (
    GridParameterSampling,
    ParameterSampling,
    RandomParameterSampling,
    SobolParameterSampling,
    TrialRecord,
)
from hdnotebook.space import choice, lognormal, loguniform, normal, qnormal, quniform, uniform

SPACE = {
    "learning_rate": loguniform(-6, -1),
    "batch_size": choice(16, 32, 64, 128),
    "dropout": uniform(0.0, 0.5),
    "units": quniform(32, 512, 32),
    "momentum": normal(0.9, 0.02),
    "decay": lognormal(-4, 1),
    "layers": qnormal(4, 1, 1),
}


def _records(configs: list[dict], state: str = "running") -> list[TrialRecord]:
    return [TrialRecord(number=i, params=c, state=state) for i, c in enumerate(configs)]


def _one_at_a_time(sampler: ParameterSampling, count: int) -> list[dict]:
    """Ask for one configuration at a time, the history growing as the engine's would."""
    configs: list[dict] = []
    for _ in range(count):
        configs += sampler.suggest(_records(configs), "maximize", count=1)
    return configs


@pytest.mark.parametrize("cls", [RandomParameterSampling, SobolParameterSampling])
def test_the_same_seed_gives_the_same_configurations(cls):
    assert cls(SPACE, seed=7).suggest([], count=5) == cls(SPACE, seed=7).suggest([], count=5)


@pytest.mark.parametrize("cls", [RandomParameterSampling, SobolParameterSampling])
def test_different_seeds_give_different_configurations(cls):
    assert cls(SPACE, seed=1).suggest([], count=3) != cls(SPACE, seed=2).suggest([], count=3)


@pytest.mark.parametrize("cls", [RandomParameterSampling, SobolParameterSampling, GridParameterSampling])
def test_suggestions_do_not_depend_on_how_they_are_batched(cls):
    space = {"a": choice(1, 2, 3), "b": choice(16, 32)} if cls is GridParameterSampling else SPACE
    batched = cls(space, seed=3).suggest([], count=3)
    assert batched == _one_at_a_time(cls(space, seed=3), 3)
    first_two = cls(space, seed=3).suggest([], count=2)
    assert first_two + cls(space, seed=3).suggest(_records(first_two), count=1) == batched


def test_random_suggestions_depend_on_the_number_of_trials_not_their_results():
    sampler = RandomParameterSampling(SPACE, seed=5)
    configs = sampler.suggest([], count=2)
    finished = [TrialRecord(i, c, "completed", value=0.1 * i, intervals=3) for i, c in enumerate(configs)]
    assert sampler.suggest(finished) == sampler.suggest(_records(configs))


@pytest.mark.parametrize("cls", [RandomParameterSampling, SobolParameterSampling])
def test_suggestions_lie_inside_the_space(cls):
    for config in cls(SPACE, seed=11).suggest([], count=64):
        assert list(config) == list(SPACE)
        for name, value in config.items():
            assert SPACE[name].contains(value), (name, value)


def test_sobol_covers_the_unit_interval_evenly():
    values = [c["x"] for c in SobolParameterSampling({"x": uniform(0, 1)}, seed=0).suggest([], count=16)]
    assert sorted(int(v * 16) for v in values) == list(range(16))  # one point per 1/16 slice


def test_a_sampler_without_a_seed_draws_one_and_shows_it():
    sampler = RandomParameterSampling({"x": uniform(0, 1)})
    assert isinstance(sampler.seed, int)
    assert repr(sampler) == f"RandomParameterSampling({{'x': uniform(0, 1)}}, seed={sampler.seed})"


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        (-1, ValueError, r"seed must be >= 0, got -1"),
        ("1", TypeError, r"seed must be an int or None, got '1' \(str\)"),
        (True, TypeError, r"seed must be an int or None, got True"),
        (1.5, TypeError, r"seed must be an int or None, got 1.5"),
    ],
)
def test_bad_seeds_are_rejected(seed, error, message):
    with pytest.raises(error, match=message):
        RandomParameterSampling({"x": uniform(0, 1)}, seed=seed)


@pytest.mark.parametrize("space", [{}, [], {"x": 0.5}])
@pytest.mark.parametrize("cls", [RandomParameterSampling, GridParameterSampling, SobolParameterSampling])
def test_samplers_validate_the_space(cls, space):
    with pytest.raises((TypeError, ValueError), match="search space"):
        cls(space)


# ---------------------------------------------------------------------------------------------
# grid
# ---------------------------------------------------------------------------------------------
def test_grid_is_the_product_in_dict_order_first_parameter_slowest():
    sampler = GridParameterSampling({"a": choice(1, 2, 3), "b": choice(16, 32)})
    assert sampler.max_configurations == 6
    assert sampler.suggest([], count=10) == [
        {"a": 1, "b": 16}, {"a": 1, "b": 32},
        {"a": 2, "b": 16}, {"a": 2, "b": 32},
        {"a": 3, "b": 16}, {"a": 3, "b": 32},
    ]


def test_grid_continues_after_the_trials_so_far_and_then_is_exhausted():
    sampler = GridParameterSampling({"a": choice(1, 2, 3), "b": choice(16, 32)})
    first = sampler.suggest([], count=4)
    assert sampler.suggest(_records(first), count=4) == [{"a": 3, "b": 16}, {"a": 3, "b": 32}]
    assert sampler.suggest(_records(sampler.suggest([], count=6)), count=1) == []


def test_grid_rejects_non_choice_expressions_naming_them():
    space = {"a": choice(1, 2), "lr": uniform(0, 1), "n": normal(0, 1)}
    with pytest.raises(ValueError) as info:
        GridParameterSampling(space)
    message = str(info.value)
    assert "choice() expressions only" in message
    assert "lr=uniform(0, 1)" in message and "n=normal(0, 1)" in message
    assert "a=" not in message


def test_trial_record_rejects_an_unknown_state():
    with pytest.raises(ValueError, match=r"state must be one of .*got 'done'"):
        TrialRecord(0, {}, state="done")


def test_sobol_suggest_does_not_warn_for_counts_that_are_not_powers_of_two():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(SobolParameterSampling(SPACE, seed=0).suggest([], count=3)) == 3
