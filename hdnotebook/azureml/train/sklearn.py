"""``SKLearn`` (``azureml.train.sklearn``): an estimator for scikit-learn scripts."""

from __future__ import annotations

from .estimator import Estimator

__all__ = ["SKLearn"]


class SKLearn(Estimator):
    """A scikit-learn training script (``framework_version`` is shown, not installed)."""

    _framework = "ScikitLearn"
