"""bench/samplers.py's report arithmetic, on real (short) sampler runs."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "samplers.py"


@pytest.fixture(scope="module")
def bench():
    """The bench script as a module; what importing it sets (thread variables, sys.path) is undone after."""
    environ, path = dict(os.environ), list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_samplers", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)


def test_the_sequential_match_is_the_fewest_trials_that_reach_a_regret(bench):
    runs = [bench.simulate("branin", "hdn-bayes", seed, "seq", 16) for seed in range(3)]
    curve = [bench._median_regret(runs, "branin", b) for b in range(1, 17)]
    assert curve == sorted(curve, reverse=True)  # best-so-far medians never rise
    target = curve[11]  # what one at a time reached at 12 trials
    match = int(bench._sequential_match(runs, "branin", target))
    assert match <= 12
    assert curve[match - 1] <= target
    assert match == 1 or curve[match - 2] > target  # and not one trial earlier
    assert bench._sequential_match(runs, "branin", -1.0) == ">16"  # a negative regret is never reached
