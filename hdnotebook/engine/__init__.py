"""The engine: runs an experiment's trials through joblib and streams their metrics to the store.

``ExperimentDriver`` is resolved on first use: a joblib worker imports only
``hdnotebook.engine.lane`` and ``hdnotebook.engine.trial``, which keeps worker processes small
(function trials run in a ``fork`` of the worker, and a fork costs in proportion to its memory).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExperimentDriver"]


def __getattr__(name: str) -> Any:
    if name == "ExperimentDriver":
        from .scheduler import ExperimentDriver

        return ExperimentDriver
    raise AttributeError(f"module 'hdnotebook.engine' has no attribute {name!r}")
