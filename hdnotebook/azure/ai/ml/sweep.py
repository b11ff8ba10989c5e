"""``azure.ai.ml.sweep``: search-space distributions, sampling algorithms, policies, limits.

    >>> from hdnotebook.azure.ai.ml.sweep import Choice, LogUniform, BanditPolicy
    >>> Choice(values=[16, 32, 64]).to_expression()
    choice(16, 32, 64)
    >>> LogUniform(min_value=-6, max_value=-1).to_expression()    # exp(uniform(-6, -1))
    loguniform(-6, -1)
"""

from __future__ import annotations

from ._command import SweepJob
from ._search_space import (
    Choice,
    LogNormal,
    LogUniform,
    Normal,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Randint,
    SweepDistribution,
    Uniform,
)
from ._sweep_settings import (
    BanditPolicy,
    BayesianSamplingAlgorithm,
    EarlyTerminationPolicy,
    GridSamplingAlgorithm,
    MedianStoppingPolicy,
    Objective,
    RandomSamplingAlgorithm,
    SamplingAlgorithm,
    SweepJobLimits,
    TruncationSelectionPolicy,
)

__all__ = [
    "SweepJob",
    "SweepJobLimits",
    "Choice",
    "Normal",
    "LogNormal",
    "QNormal",
    "QLogNormal",
    "Randint",
    "Uniform",
    "QUniform",
    "LogUniform",
    "QLogUniform",
    "SweepDistribution",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "EarlyTerminationPolicy",
    "SamplingAlgorithm",
    "RandomSamplingAlgorithm",
    "GridSamplingAlgorithm",
    "BayesianSamplingAlgorithm",
    "Objective",
]
