"""The engine: runs an experiment's trials through joblib and streams their metrics to the store."""

from .scheduler import ExperimentDriver

__all__ = ["ExperimentDriver"]
