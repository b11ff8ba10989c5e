"""Deep-learning estimators (``azureml.train.dnn``): ``PyTorch``, ``TensorFlow``, ``Chainer``.

Distributed settings (``Mpi``, ``Gloo``, ``Nccl``, ``ParameterServer``) are accepted and kept; a
trial runs as one process here.
"""

from __future__ import annotations

from typing import Any

from ..estimator import Estimator

__all__ = ["PyTorch", "TensorFlow", "Chainer", "Mpi", "Gloo", "Nccl", "ParameterServer"]


class PyTorch(Estimator):
    """A PyTorch training script."""

    _framework = "PyTorch"


class TensorFlow(Estimator):
    """A TensorFlow training script (``worker_count``/``parameter_server_count`` are kept, not used)."""

    _framework = "TensorFlow"

    def __init__(self, source_directory: Any, *, worker_count: int = 1, parameter_server_count: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(source_directory, **kwargs)
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


class Chainer(Estimator):
    """A Chainer training script."""

    _framework = "Chainer"


class _Distributed:
    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        for key, value in settings.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.settings.items())})"


class Mpi(_Distributed):
    def __init__(self, process_count_per_node: int = 1) -> None:
        super().__init__(process_count_per_node=process_count_per_node)


class Gloo(_Distributed):
    pass


class Nccl(_Distributed):
    pass


class ParameterServer(_Distributed):
    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        super().__init__(worker_count=worker_count, parameter_server_count=parameter_server_count)
