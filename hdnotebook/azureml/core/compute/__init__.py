"""Compute targets (``azureml.core.compute``): every cluster is this machine.

A notebook that looks up or provisions ``AmlCompute`` runs unchanged: ``ComputeTarget(ws, name)``
always finds the target, ``ComputeTarget.create`` returns at once, and trials run here on the
CPUs and GPUs the engine sees (at most ``max_concurrent_runs`` at a time, one GPU each when the
estimator asks for one).

>>> target = ComputeTarget(workspace=ws, name="gpu-cluster")          # doctest: +SKIP
hdnotebook.azureml: compute target 'gpu-cluster': trials run on this machine (16 CPUs, 1 GPU)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .._status import ComputeStatus
from ..._local import announce, machine_summary

__all__ = ["ComputeTarget", "AmlCompute", "ComputeInstance", "AmlComputeProvisioningConfiguration"]

_KNOWN: dict[str, dict[str, "ComputeTarget"]] = {}


class AmlComputeProvisioningConfiguration:
    """What ``AmlCompute.provisioning_configuration(...)`` returns: the arguments, kept."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        for key, value in settings.items():
            setattr(self, key, value)

    def validate_configuration(self) -> None:
        """Nothing to check: the cluster is this machine."""

    def __repr__(self) -> str:
        return f"AmlComputeProvisioningConfiguration({', '.join(f'{k}={v!r}' for k, v in self.settings.items())})"


class ComputeTarget:
    """A compute target; here a name for this machine.

    ``ComputeTarget(workspace, name)`` finds every name (a cluster named in a notebook "exists").
    """

    _compute_type = "AmlCompute"

    def __new__(cls, workspace: Any = None, name: str | None = None) -> ComputeTarget:
        if cls is ComputeTarget and workspace is not None and name is not None:
            existing = _KNOWN.get(workspace.path, {}).get(name)
            if existing is not None:
                return existing
        return super().__new__(cls)

    def __init__(self, workspace: Any = None, name: str | None = None) -> None:
        if getattr(self, "_ready", False):
            return
        if not isinstance(name, str) or not name:
            raise TypeError(f"ComputeTarget(workspace, name): name must be the target's name, got {name!r}")
        self.workspace = workspace
        self.name = name
        self.type = self._compute_type
        self.provisioning_state = "Succeeded"
        self.location = getattr(workspace, "location", "local")
        self.cluster_location = self.location
        self.provisioning_configuration: AmlComputeProvisioningConfiguration | None = None
        self._ready = True
        if workspace is not None:
            _KNOWN.setdefault(workspace.path, {})[name] = self
        announce(f"compute:{name}", f"compute target {name!r}: trials run on this machine ({machine_summary()})")

    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """"Provision" ``name``: returns the target at once (this machine)."""
        kind = AmlCompute if isinstance(provisioning_configuration, AmlComputeProvisioningConfiguration) else ComputeTarget
        target = kind(workspace, name)
        target.provisioning_configuration = provisioning_configuration
        return target

    @staticmethod
    def list(workspace: Any) -> list[ComputeTarget]:
        """The targets this process has looked up or created in ``workspace``."""
        return list(_KNOWN.get(workspace.path, {}).values())

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 20, is_delete_operation: bool = False) -> None:
        """Returns at once: nothing is provisioned."""
        if show_output:
            print("SucceededProvisioning operation finished, operation \"Succeeded\"")

    def get_status(self) -> ComputeStatus:
        """The status object; ``.serialize()`` gives a dict like the real one."""
        return ComputeStatus(self.name, self.provisioning_state, self.provisioning_configuration)

    def refresh_state(self) -> None:
        """Nothing to refresh."""

    def delete(self) -> None:
        """Forget the target (trials still run on this machine)."""
        _KNOWN.get(getattr(self.workspace, "path", ""), {}).pop(self.name, None)

    def detach(self) -> None:
        self.delete()

    def serialize(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "location": self.location,
                "provisioningState": self.provisioning_state}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={getattr(self.workspace, 'name', None)!r}, name={self.name!r}, local=True)"


class AmlCompute(ComputeTarget):
    """An Azure ML managed cluster; here this machine."""

    _compute_type = "AmlCompute"

    def __new__(cls, workspace: Any = None, name: str | None = None) -> AmlCompute:
        return ComputeTarget.__new__(cls, workspace, name)  # type: ignore[return-value]

    @staticmethod
    def provisioning_configuration(vm_size: str = "", vm_priority: str = "dedicated", min_nodes: int = 0,
                                   max_nodes: int | None = None, idle_seconds_before_scaledown: int | None = None,
                                   admin_username: str | None = None, admin_user_password: str | None = None,
                                   admin_user_ssh_key: str | None = None, vnet_resourcegroup_name: str | None = None,
                                   vnet_name: str | None = None, subnet_name: str | None = None, tags: Any = None,
                                   description: str | None = None, remote_login_port_public_access: str = "NotSpecified",
                                   identity_type: str | None = None, identity_id: Any = None,
                                   location: str | None = None, enable_node_public_ip: bool = True,
                                   **kwargs: Any) -> AmlComputeProvisioningConfiguration:
        """Keep the cluster settings (shown by ``get_status().serialize()``); nothing is created."""
        return AmlComputeProvisioningConfiguration(
            vm_size=vm_size, vm_priority=vm_priority, min_nodes=min_nodes, max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown, **kwargs)

    @staticmethod
    def supported_vmsizes(workspace: Any, location: str | None = None) -> list[dict[str, Any]]:
        return [{"name": "local", "vCPUs": machine_summary()}]


class ComputeInstance(AmlCompute):
    """An Azure ML compute instance; here this machine."""

    _compute_type = "ComputeInstance"

    def __new__(cls, workspace: Any = None, name: str | None = None) -> ComputeInstance:
        return ComputeTarget.__new__(cls, workspace, name)  # type: ignore[return-value]


class _ComputeTargets(Mapping[str, ComputeTarget]):
    """``ws.compute_targets``: every name looks up as a target (this machine)."""

    def __init__(self, workspace: Any) -> None:
        self._workspace = workspace

    def __getitem__(self, name: str) -> ComputeTarget:
        return ComputeTarget(self._workspace, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(_KNOWN.get(self._workspace.path, {})))

    def __len__(self) -> int:
        return len(_KNOWN.get(self._workspace.path, {}))
