"""Samplers: each proposes configurations from a search space (SPEC §2)."""

from .base import ParameterSampling, TrialRecord
from .grid import GridParameterSampling
from .random import RandomParameterSampling
from .sobol import SobolParameterSampling
from .bayesian import BayesianParameterSampling  # noqa: F401  (exported, see bayesian.py)

__all__ = [
    "ParameterSampling",
    "TrialRecord",
    "RandomParameterSampling",
    "GridParameterSampling",
    "SobolParameterSampling",
]
