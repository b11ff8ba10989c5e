"""Status objects of the stand-ins: ``get_status().serialize()`` as the real SDK shapes it."""

from __future__ import annotations

from typing import Any

__all__ = ["ComputeStatus"]


class ComputeStatus:
    """What ``compute_target.get_status()`` returns."""

    def __init__(self, name: str, state: str, configuration: Any) -> None:
        self.name = name
        self.provisioning_state = state
        self._configuration = configuration

    def serialize(self) -> dict[str, Any]:
        from .._local import machine_summary

        settings = getattr(self._configuration, "settings", {}) or {}
        return {
            "currentNodeCount": 1, "targetNodeCount": 1,
            "nodeStateCounts": {"idleNodeCount": 1, "leavingNodeCount": 0, "preemptedNodeCount": 0,
                                "preparingNodeCount": 0, "runningNodeCount": 0, "unusableNodeCount": 0},
            "allocationState": "Steady", "errors": None, "creationTime": None, "modifiedTime": None,
            "provisioningState": self.provisioning_state, "vmPriority": settings.get("vm_priority", "Dedicated"),
            "vmSize": settings.get("vm_size") or "local", "local": machine_summary(),
        }

    def __repr__(self) -> str:
        return repr(self.serialize())
