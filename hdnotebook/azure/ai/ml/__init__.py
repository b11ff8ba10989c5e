"""``hdnotebook.azure.ai.ml``: Azure ML SDK v2 sweep jobs, run locally (SPEC §10).

A v2 notebook ports by changing ``azure.`` to ``hdnotebook.azure.`` in its imports::

    from hdnotebook.azure.ai.ml import MLClient, command, Input
    from hdnotebook.azure.ai.ml.sweep import Choice, Uniform, MedianStoppingPolicy
    from hdnotebook.azure.identity import DefaultAzureCredential

    ml_client = MLClient(DefaultAzureCredential(), "<SUBSCRIPTION_ID>", "<RESOURCE_GROUP>", "<WORKSPACE>")
    job = command(code="./src", command="python train.py --C ${{inputs.C}} --kernel ${{inputs.kernel}}",
                  inputs={"C": 1.0, "kernel": "linear"}, environment="sklearn-env@latest", compute="cpu-cluster")
    sweep_job = job(C=Uniform(0.5, 1.5), kernel=Choice(["linear", "rbf"])).sweep(
        compute="cpu-cluster", sampling_algorithm="random", primary_metric="Accuracy", goal="Maximize",
        max_total_trials=12, max_concurrent_trials=4,
        early_termination_policy=MedianStoppingPolicy(delay_evaluation=5))
    returned = ml_client.jobs.create_or_update(sweep_job)
    ml_client.jobs.stream(returned.name)
    best = ml_client.jobs.get(returned.name).properties["best_child_run_id"]

Each trial runs the command, its ``${{inputs.x}}`` filled in, as a script trial of hdnotebook's
engine; ``hdnotebook.RunDetails(returned).show()`` shows the sweep live. See
:mod:`hdnotebook.azure.ai.ml._translate` for how each v2 setting maps onto the engine.
Names are resolved on first use, so a trial's launcher imports only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "MLClient": "_client",
    "command": "_command",
    "Input": "_command",
    "Output": "_command",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hdnotebook.azure.ai.ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
