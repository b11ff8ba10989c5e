"""``azureml.core.compute_target``: the exception notebooks catch around a compute lookup."""

from __future__ import annotations

from ..exceptions import ComputeTargetException
from .compute import ComputeTarget as AbstractComputeTarget

__all__ = ["ComputeTargetException", "AbstractComputeTarget"]
