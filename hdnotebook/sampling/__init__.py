"""Samplers: each proposes configurations from a search space (SPEC §2)."""

from .base import ParameterSampling, TrialRecord
from .grid import GridParameterSampling
from .random import RandomParameterSampling
from .sobol import SobolParameterSampling

__all__ = [
    "ParameterSampling",
    "TrialRecord",
    "RandomParameterSampling",
    "GridParameterSampling",
    "SobolParameterSampling",
]
