"""``azureml.train.hyperdrive.parameter_expressions``: the search-space expressions."""

from ....space import (choice, lognormal, loguniform, normal, qlognormal, qloguniform, qnormal, quniform, randint,
                       uniform)

__all__ = ["choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
           "lognormal", "qlognormal"]
