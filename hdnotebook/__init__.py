"""hdnotebook: HyperDrive-style hyperparameter tuning inside Jupyter.

Everything public of SPEC §9 is importable from here::

    from hdnotebook import (choice, uniform, loguniform, RandomParameterSampling, BanditPolicy,
                            HyperDriveConfig, PrimaryMetricGoal, Experiment, Workspace, Run,
                            RunDetails, ScriptRunConfig, Estimator)

Names are resolved on first use, so ``import hdnotebook`` stays cheap in trial processes.
``%load_ext hdnotebook`` registers the ``%%hyperdrive`` magic.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # search space (SPEC §1)
    "choice": "space",
    "uniform": "space",
    "loguniform": "space",
    "normal": "space",
    "lognormal": "space",
    "quniform": "space",
    "qloguniform": "space",
    "qnormal": "space",
    "qlognormal": "space",
    # sampling (SPEC §2)
    "RandomParameterSampling": "sampling.random",
    "GridParameterSampling": "sampling.grid",
    "SobolParameterSampling": "sampling.sobol",
    "BayesianParameterSampling": "sampling.bayesian",
    # early termination (SPEC §4)
    "BanditPolicy": "policy.bandit",
    "MedianStoppingPolicy": "policy.median",
    "TruncationSelectionPolicy": "policy.truncation",
    "NoTerminationPolicy": "policy.none",
    "ASHAPolicy": "policy.asha",
    "HyperbandPolicy": "policy.asha",
    # config and estimators (SPEC §3, §5, §9)
    "HyperDriveConfig": "config",
    "HyperDriveRunConfig": "config",
    "PrimaryMetricGoal": "config",
    "ScriptRunConfig": "estimator",
    "Estimator": "estimator",
    # engine and views (SPEC §6, §7, §9)
    "Workspace": "workspace",
    "Experiment": "workspace",
    "Run": "run",
    "HyperDriveRun": "experiment_run",
    "RunDetails": "widgets",
}

__all__ = sorted(_EXPORTS) + ["load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hdnotebook' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hdnotebook``: register ``%%hyperdrive`` and ``%hyperdrive``."""
    from .magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext hdnotebook``."""
    from .magic import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Lets ``jupyter server extension enable hdnotebook`` find the server extension."""
    return [{"module": "hdnotebook.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """For ``jupyter labextension develop``: where the prebuilt sidebar extension is."""
    return [{"src": "labextension", "dest": "hdnotebook-sidebar"}]
