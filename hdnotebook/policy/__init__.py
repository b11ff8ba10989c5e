"""Early-termination policies (SPEC §4): pure functions of metric histories -> runs to stop.

    >>> from hdnotebook.policy import BanditPolicy
    >>> BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)
    BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)
"""

from .asha import ASHAPolicy, HyperbandPolicy
from .bandit import BanditPolicy
from .base import EarlyTerminationPolicy, StopDecision
from .median import MedianStoppingPolicy
from .none import NoTerminationPolicy
from .population import PolicyTracker, Population
from .replay import ReplayReport, RunEnded, compare_policies, replay_policy, simulate_policy
from .truncation import TruncationSelectionPolicy

__all__ = [
    "EarlyTerminationPolicy",
    "StopDecision",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "NoTerminationPolicy",
    "ASHAPolicy",
    "HyperbandPolicy",
    "PolicyTracker",
    "Population",
    "ReplayReport",
    "RunEnded",
    "replay_policy",
    "simulate_policy",
    "compare_policies",
]
