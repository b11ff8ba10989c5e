"""``azureml.train.hyperdrive``: spaces, samplers, policies, ``HyperDriveConfig``, ``HyperDriveRun``.

The sampling and policy classes are hdnotebook's own (``hdnotebook.RandomParameterSampling`` is
``hdnotebook.azureml.train.hyperdrive.RandomParameterSampling``); the config and the run follow
the SDK's signatures and defaults (see :mod:`.runconfig` and :mod:`.run`).
"""

from .parameter_expressions import (choice, lognormal, loguniform, normal, qlognormal, qloguniform, qnormal,
                                    quniform, randint, uniform)
from .policy import (BanditPolicy, EarlyTerminationPolicy, MedianStoppingPolicy, NoTerminationPolicy,
                     TruncationSelectionPolicy)
from .run import HyperDriveRun
from .runconfig import HyperDriveConfig, HyperDriveRunConfig, PrimaryMetricGoal
from .sampling import BayesianParameterSampling, GridParameterSampling, HyperParameterSampling, RandomParameterSampling

__all__ = ["BanditPolicy", "BayesianParameterSampling", "EarlyTerminationPolicy", "GridParameterSampling",
           "HyperDriveConfig", "HyperDriveRun", "HyperDriveRunConfig", "HyperParameterSampling",
           "MedianStoppingPolicy", "NoTerminationPolicy", "PrimaryMetricGoal", "RandomParameterSampling",
           "TruncationSelectionPolicy", "choice", "lognormal", "loguniform", "normal", "randint", "qlognormal",
           "qloguniform", "qnormal", "quniform", "uniform"]
