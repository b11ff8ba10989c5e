"""Search-space expressions (SPEC §1): support, q-forms, seeds, unit encoding, repr, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdnotebook.space import (
    EXPRESSIONS,
    ParameterExpression,
    choice,
    from_unit,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    sample_configuration,
    to_unit,
    uniform,
    validate_space,
)

FAST = settings(max_examples=60, deadline=None)

# ---------------------------------------------------------------------------------------------
# strategies: one per expression kind, with arguments in sensible ranges
# ---------------------------------------------------------------------------------------------
_centre = st.floats(-100, 100, allow_nan=False)
_width = st.floats(0.01, 100, allow_nan=False)
_exponent = st.floats(-10, 5, allow_nan=False)
_log_width = st.floats(0.01, 5, allow_nan=False)
_sigma = st.floats(0.01, 10, allow_nan=False)
_q = st.one_of(st.integers(1, 10), st.sampled_from([0.1, 0.25, 0.5, 2.5]))
_choice_value = st.one_of(
    st.text(max_size=5), st.booleans(), st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False), st.none(),
)


@st.composite
def _choices(draw):
    values = draw(st.lists(_choice_value, min_size=1, max_size=6, unique_by=lambda v: (type(v) is bool, v)))
    try:
        return choice(*values)
    except ValueError:  # e.g. 1 and 1.0 are duplicates
        return choice(values[0])


EXPRESSION_STRATEGIES = {
    "choice": _choices(),
    "uniform": st.builds(lambda lo, w: uniform(lo, lo + w), _centre, _width),
    "loguniform": st.builds(lambda lo, w: loguniform(lo, lo + w), _exponent, _log_width),
    "normal": st.builds(normal, _centre, _sigma),
    "lognormal": st.builds(lognormal, st.floats(-3, 3), st.floats(0.01, 2)),
    "quniform": st.builds(lambda lo, w, q: quniform(lo, lo + w, q), _centre, _width, _q),
    "qloguniform": st.builds(lambda lo, w, q: qloguniform(lo, lo + w, q), st.floats(-3, 5), _log_width, _q),
    "qnormal": st.builds(qnormal, _centre, _sigma, _q),
    "qlognormal": st.builds(qlognormal, st.floats(-3, 3), st.floats(0.01, 2), _q),
    "randint": st.builds(randint, st.integers(1, 10_000)),
}
any_expression = st.one_of(*EXPRESSION_STRATEGIES.values())


def _samples(expr: ParameterExpression, seed: int, n: int = 20) -> list:
    rng = np.random.default_rng(seed)
    return [expr.sample(rng) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------
def test_every_kind_has_a_strategy():
    assert set(EXPRESSION_STRATEGIES) == set(EXPRESSIONS)


@FAST
@given(expr=any_expression, seed=st.integers(0, 2**32 - 1))
def test_samples_lie_in_the_support(expr, seed):
    for value in _samples(expr, seed):
        assert expr.contains(value), (expr, value)


@FAST
@given(
    kind=st.sampled_from(["quniform", "qloguniform", "qnormal", "qlognormal"]),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
)
def test_q_forms_give_multiples_of_q_and_ints_for_int_q(kind, data, seed):
    expr = data.draw(EXPRESSION_STRATEGIES[kind])
    for value in _samples(expr, seed):
        if isinstance(expr._args[-1], int):
            assert type(value) is int and value % expr._args[-1] == 0
        else:
            assert type(value) is float
            ratio = value / expr.q
            assert ratio == pytest.approx(round(ratio), abs=1e-6)


@FAST
@given(low=_exponent, width=_log_width, seed=st.integers(0, 2**32 - 1))
def test_loguniform_values_lie_between_e_to_the_low_and_e_to_the_high(low, width, seed):
    expr = loguniform(low, low + width)
    for value in _samples(expr, seed):
        assert math.exp(low) * (1 - 1e-12) <= value <= math.exp(low + width) * (1 + 1e-12)


@FAST
@given(expr=any_expression, seed=st.integers(0, 2**32 - 1))
def test_the_same_seed_gives_the_same_samples(expr, seed):
    assert _samples(expr, seed) == _samples(expr, seed)


def test_different_seeds_give_different_samples():
    expr = uniform(0, 1)
    assert _samples(expr, 1) != _samples(expr, 2)


@FAST
@given(expr=any_expression, seed=st.integers(0, 2**32 - 1))
def test_to_unit_and_from_unit_roundtrip(expr, seed):
    for value in _samples(expr, seed, n=10):
        u = expr.to_unit(value)
        assert 0.0 <= u <= 1.0
        back = expr.from_unit(u)
        if expr.is_categorical or expr.is_discrete:
            assert back == value and type(back) is type(value)
        else:
            assert back == pytest.approx(value, rel=1e-6, abs=1e-9)


def test_whole_space_roundtrips_through_the_unit_cube():
    space = {"lr": loguniform(-6, -1), "bs": choice(16, 32, 64), "act": choice("relu", None, True)}
    config = sample_configuration(space, np.random.default_rng(3))
    point = to_unit(space, config)
    assert point.shape == (3,) and ((0 <= point) & (point <= 1)).all()
    back = from_unit(space, point)
    assert back["bs"] == config["bs"] and back["act"] is config["act"]
    assert back["lr"] == pytest.approx(config["lr"])


def test_uniform_unit_points_reproduce_the_prior_of_normal():
    expr = normal(10, 2)
    values = [expr.from_unit(u) for u in np.linspace(0.001, 0.999, 999)]
    assert np.mean(values) == pytest.approx(10, abs=0.01)
    assert expr.from_unit(0.5) == pytest.approx(10)


# ---------------------------------------------------------------------------------------------
# repr and equality
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (loguniform(-6, -1), "loguniform(-6, -1)"),
        (uniform(0.05, 0.1), "uniform(0.05, 0.1)"),
        (choice(16, 32, 64, 128), "choice(16, 32, 64, 128)"),
        (choice("relu", True, 1, 2.5, None), "choice('relu', True, 1, 2.5, None)"),
        (normal(10, 3), "normal(10, 3)"),
        (lognormal(0, 1), "lognormal(0, 1)"),
        (quniform(0, 100, 1), "quniform(0, 100, 1)"),
        (qloguniform(0, 5, 0.5), "qloguniform(0, 5, 0.5)"),
        (qnormal(10, 3, 1), "qnormal(10, 3, 1)"),
        (qlognormal(2, 1, 1), "qlognormal(2, 1, 1)"),
    ],
)
def test_repr_is_the_constructor_call_and_reads_back(expr, text):
    assert repr(expr) == text
    assert eval(repr(expr), dict(EXPRESSIONS)) == expr


@FAST
@given(expr=any_expression)
def test_repr_reads_back_for_any_expression(expr):
    assert eval(repr(expr), dict(EXPRESSIONS)) == expr


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (choice(range(1, 5)), choice(1, 2, 3, 4)),
        (choice([0.1, 0.2]), choice(0.1, 0.2)),
        (choice((16, 32)), choice(16, 32)),
    ],
)
def test_choice_of_a_range_or_list_equals_the_values_spelled_out(left, right):
    assert left == right and hash(left) == hash(right)
    assert left.values == right.values


def test_choice_of_mixed_types_keeps_each_value_and_type():
    expr = choice("adam", True, 1, 0.5, None)
    assert expr.contains(True) and expr.contains(1) and expr.contains(None)
    assert not expr.contains(False) and not expr.contains("sgd") and not expr.contains(2)
    assert expr.index(True) != expr.index(1)  # True is not 1
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(200):
        seen.add(repr(expr.sample(rng)))
    assert seen == {"'adam'", "True", "1", "0.5", "None"}
    assert [expr.from_unit(expr.to_unit(v)) for v in expr.values] == list(expr.values)


def test_choice_of_one_value_always_gives_it():
    assert _samples(choice("only"), 0, n=5) == ["only"] * 5


def test_expressions_of_different_kinds_or_arguments_differ():
    assert uniform(0, 1) != loguniform(0, 1)
    assert uniform(0, 1) != uniform(0, 2)
    assert choice(1, 2) != choice(2, 1)


# ---------------------------------------------------------------------------------------------
# validation: every bad input names what is wrong
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: choice(), ValueError, r"choice\(\): needs at least one value.*got none"),
        (lambda: choice([]), ValueError, r"choice\(\): needs at least one value"),
        (lambda: choice(range(0)), ValueError, r"choice\(\): needs at least one value"),
        (lambda: choice(1, 2, 1), ValueError, r"choice\(\): values must be distinct, got duplicates 1"),
        (lambda: choice(1, 1.0), ValueError, r"values must be distinct, got duplicates 1, 1.0"),
        (lambda: choice("a", "a"), ValueError, r"got duplicates 'a'"),
        (lambda: choice(math.nan), ValueError, r"choice\(\): values must be finite, got nan"),
        (lambda: choice([1, 2], 3), TypeError, r"values must be str, bool, int, float or None, got \[1, 2\] \(list\)"),
        (lambda: choice(object()), TypeError, r"values must be str, bool, int, float or None"),
        (lambda: uniform(1, 1), ValueError, r"uniform\(\): low must be < high, got low=1, high=1"),
        (lambda: uniform(2, 1), ValueError, r"uniform\(\): low must be < high, got low=2, high=1"),
        (lambda: loguniform(-1, -6), ValueError, r"loguniform\(\): low must be < high, got low=-1, high=-6"),
        (lambda: quniform(5, 0, 1), ValueError, r"quniform\(\): low must be < high"),
        (lambda: qloguniform(3, 3, 1), ValueError, r"qloguniform\(\): low must be < high"),
        (lambda: quniform(0, 10, 0), ValueError, r"quniform\(\): q must be > 0, got 0"),
        (lambda: qloguniform(0, 3, -1), ValueError, r"qloguniform\(\): q must be > 0, got -1"),
        (lambda: qnormal(0, 1, 0.0), ValueError, r"qnormal\(\): q must be > 0, got 0.0"),
        (lambda: qlognormal(0, 1, -0.5), ValueError, r"qlognormal\(\): q must be > 0, got -0.5"),
        (lambda: normal(0, 0), ValueError, r"normal\(\): sigma must be > 0, got 0"),
        (lambda: lognormal(0, -1), ValueError, r"lognormal\(\): sigma must be > 0, got -1"),
        (lambda: qnormal(0, -2, 1), ValueError, r"qnormal\(\): sigma must be > 0, got -2"),
        (lambda: uniform(math.nan, 1), ValueError, r"uniform\(\): low must be finite, got nan"),
        (lambda: uniform(0, math.inf), ValueError, r"uniform\(\): high must be finite, got inf"),
        (lambda: loguniform(-math.inf, 0), ValueError, r"loguniform\(\): low must be finite, got -inf"),
        (lambda: normal(math.inf, 1), ValueError, r"normal\(\): mu must be finite, got inf"),
        (lambda: normal(0, math.nan), ValueError, r"normal\(\): sigma must be finite, got nan"),
        (lambda: quniform(0, 1, math.inf), ValueError, r"quniform\(\): q must be finite, got inf"),
        (lambda: uniform("a", 1), TypeError, r"uniform\(\): low must be a real number, got 'a' \(str\)"),
        (lambda: uniform(0, True), TypeError, r"uniform\(\): high must be a real number, got True \(bool\)"),
        (lambda: normal(None, 1), TypeError, r"normal\(\): mu must be a real number, got None"),
        (lambda: quniform(0, 10, "1"), TypeError, r"quniform\(\): q must be a real number, got '1'"),
        (lambda: validate_space([("lr", uniform(0, 1))]), TypeError, r"search space must be a dict \{name: expression\}.*got list"),
        (lambda: validate_space(None), TypeError, r"search space must be a dict.*got NoneType"),
        (lambda: validate_space({}), ValueError, r"search space is empty"),
        (lambda: validate_space({"lr": 0.01}), TypeError, r"'lr' must be a parameter expression.*got 0.01 \(float\); wrap fixed values as choice\(0.01\)"),
        (lambda: validate_space({"lr": "uniform(0, 1)"}), TypeError, r"'lr' must be a parameter expression"),
        (lambda: validate_space({1: choice(1)}), TypeError, r"names must be non-empty strings, got 1"),
        (lambda: validate_space({"": choice(1)}), TypeError, r"names must be non-empty strings, got ''"),
    ],
)
def test_bad_inputs_are_rejected_with_a_message_naming_them(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_grid_values_of_a_continuous_expression_is_a_clear_error():
    with pytest.raises(TypeError, match=r"uniform\(0, 1\) is continuous.*choice\(\) expressions only"):
        uniform(0, 1).grid_values()
