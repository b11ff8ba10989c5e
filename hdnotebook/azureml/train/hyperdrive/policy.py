"""``azureml.train.hyperdrive.policy``: the early-termination policies."""

from ....policy.bandit import BanditPolicy
from ....policy.base import EarlyTerminationPolicy
from ....policy.median import MedianStoppingPolicy
from ....policy.none import NoTerminationPolicy
from ....policy.truncation import TruncationSelectionPolicy

__all__ = ["BanditPolicy", "MedianStoppingPolicy", "NoTerminationPolicy", "TruncationSelectionPolicy",
           "EarlyTerminationPolicy"]
