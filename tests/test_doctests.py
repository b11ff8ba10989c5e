"""The docstring examples of the pure modules run (``--doctest-modules`` for the core, wired into
``scripts/test.sh`` through this file): the vocabulary, the space, the samplers, the policies, and
the engine's pure parts (GPU slots, the trials table)."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: modules whose examples must run; each has at least one
PURE_MODULES = [
    "_vocab",
    "_format",
    "space",
    "sampling.random",
    "sampling.grid",
    "sampling.bayesian",
    "sampling._acquisition",
    "policy.population",
    "policy.bandit",
    "policy.median",
    "policy.truncation",
    "policy.none",
    "policy.asha",
    "policy.replay",
    "engine.gpus",
    "engine.trials",
    "run",
    "config",
    "steering",
    "insight",
]


@pytest.fixture
def fresh_offline_run():
    """An example that logs outside a trial uses the process's offline run: give it back untouched."""
    from hdnotebook import run

    saved = dict(run._OFFLINE)
    run._OFFLINE.clear()
    yield
    run._OFFLINE.clear()
    run._OFFLINE.update(saved)


@pytest.mark.parametrize("name", PURE_MODULES)
def test_docstring_examples_run(name, fresh_offline_run):
    module = importlib.import_module(f"hdnotebook.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
    assert tried > 0, f"hdnotebook.{name} has no docstring example"
