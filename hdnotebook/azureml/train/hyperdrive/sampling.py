"""``azureml.train.hyperdrive.sampling``: the samplers."""

from ....sampling.base import ParameterSampling as HyperParameterSampling
from ....sampling.bayesian import BayesianParameterSampling
from ....sampling.grid import GridParameterSampling
from ....sampling.random import RandomParameterSampling

__all__ = ["HyperParameterSampling", "RandomParameterSampling", "GridParameterSampling", "BayesianParameterSampling"]
