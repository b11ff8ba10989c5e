"""``Workspace``: the local stand-in of an Azure ML workspace (``azureml.core.workspace``).

A workspace here is a folder (``./.hdnotebook`` by default, as ``hdnotebook.Workspace``) holding
every experiment, run, snapshot and registered model. ``Workspace.from_config()`` reads the
``config.json`` a notebook was written for, when there is one, only for the names it shows
(``ws.name``, ``ws.subscription_id``, ...); nothing connects to Azure.

>>> ws = Workspace.from_config()          # doctest: +SKIP
>>> ws.name, ws.location                  # doctest: +SKIP
('my-workspace', 'local')
"""

from __future__ import annotations

import json
import os
from typing import Any

from ... import workspace as _local_workspace
from .._local import announce

__all__ = ["Workspace"]

CONFIG_FILE = "config.json"
LOCATION = "local"


def _find_config(path: str | None, file_name: str | None) -> str | None:
    """``config.json`` in ``path`` (a file or a folder), its ``.azureml`` folder, or a folder above."""
    name = file_name or CONFIG_FILE
    if path is not None and os.path.isfile(path):
        return path
    folder = os.path.abspath(path or os.getcwd())
    while True:
        for candidate in (os.path.join(folder, name), os.path.join(folder, ".azureml", name),
                          os.path.join(folder, "aml_config", name)):
            if os.path.isfile(candidate):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


class Workspace(_local_workspace.Workspace):
    """An Azure ML workspace, kept in a local folder.

    Args:
        subscription_id, resource_group, workspace_name: the names the notebook gives (shown
            by ``ws.subscription_id`` etc.; ``"local"`` when not given).
        auth, sku, tags: accepted and kept; nothing authenticates here.
        path: the folder of the store; ``None`` means ``./.hdnotebook``.
    """

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        _cloud: str = "AzureCloud",
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(path)
        self._subscription_id = subscription_id or "local"
        self._resource_group = resource_group or "local"
        self._name = workspace_name or os.path.basename(os.path.dirname(self.path)) or "local"
        self._location = _location or LOCATION
        self._sku = sku
        self._tags = dict(tags or {})
        announce(f"workspace:{self.path}",
                 f"workspace {self._name!r}: experiments, runs and models are kept in {self.path} (nothing goes to Azure)")

    # -- finding one -----------------------------------------------------------------------------
    @staticmethod
    def from_config(path: str | None = None, auth: Any = None, _logger: Any = None,
                    _file_name: str | None = None) -> Workspace:
        """The workspace a notebook's ``config.json`` names (looked for in ``path``, ``.azureml/``
        and the folders above); without one, a workspace named after the current folder."""
        found = _find_config(path, _file_name)
        values: dict[str, Any] = {}
        if found is not None:
            with open(found, encoding="utf-8") as fh:
                try:
                    values = json.load(fh)
                except ValueError as exc:
                    raise ValueError(f"Workspace.from_config(): {found} is not valid JSON: {exc}") from None
        return Workspace(values.get("subscription_id"), values.get("resource_group"),
                         values.get("workspace_name"), auth=auth)

    @staticmethod
    def get(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
            location: str | None = None, cloud: str = "AzureCloud", id: str | None = None) -> Workspace:
        """The workspace ``name`` (a local folder of that name's store: ``./.hdnotebook``)."""
        return Workspace(subscription_id, resource_group, name, auth=auth, _location=location)

    @staticmethod
    def create(name: str, auth: Any = None, subscription_id: str | None = None, resource_group: str | None = None,
               location: str | None = None, create_resource_group: bool = True, sku: str = "basic",
               tags: dict[str, str] | None = None, exist_ok: bool = False, show_output: bool = True,
               **kwargs: Any) -> Workspace:
        """Create (here: open) the workspace ``name``."""
        return Workspace(subscription_id, resource_group, name, auth=auth, _location=location, sku=sku, tags=tags)

    def write_config(self, path: str | None = None, file_name: str | None = None) -> None:
        """Write ``.azureml/config.json`` under ``path`` (default: the current folder)."""
        folder = os.path.join(os.path.abspath(path or os.getcwd()), ".azureml")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, file_name or CONFIG_FILE), "w", encoding="utf-8") as fh:
            json.dump({"subscription_id": self._subscription_id, "resource_group": self._resource_group,
                       "workspace_name": self._name}, fh, indent=4)

    # -- names -----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def subscription_id(self) -> str:
        return self._subscription_id

    @property
    def resource_group(self) -> str:
        return self._resource_group

    @property
    def location(self) -> str:
        return self._location

    @property
    def sku(self) -> str:
        return self._sku

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    def get_details(self) -> dict[str, Any]:
        """The workspace as a dict, in the shape of the real ``get_details()``."""
        return {
            "id": f"/subscriptions/{self._subscription_id}/resourceGroups/{self._resource_group}/providers/"
                  f"Microsoft.MachineLearningServices/workspaces/{self._name}",
            "name": self._name, "location": self._location, "type": "Microsoft.MachineLearningServices/workspaces",
            "tags": self.tags, "sku": self._sku, "workspaceid": self.path, "description": "",
            "friendlyName": self._name, "storageAccount": self.path, "hbiWorkspace": False,
        }

    def get_portal_url(self) -> str:
        return f"file://{self.path}"

    # -- what is in it ---------------------------------------------------------------------------
    @property
    def experiments(self) -> dict[str, Any]:  # type: ignore[override]
        from .experiment import Experiment

        return {name: Experiment(self, name) for name in self.store.experiments()}

    @property
    def compute_targets(self) -> Any:
        """Every compute target name maps to this machine (see :class:`~.compute.ComputeTarget`)."""
        from .compute import _ComputeTargets

        return _ComputeTargets(self)

    @property
    def models(self) -> dict[str, Any]:
        """The latest version of every registered model, by name."""
        from .model import Model

        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def environments(self) -> dict[str, Any]:
        from .environment import _registered

        return _registered(self)

    @property
    def datastores(self) -> dict[str, Any]:
        from .datastore import Datastore

        store = Datastore(self, "workspaceblobstore")
        return {store.name: store}

    def get_default_datastore(self) -> Any:
        """A folder of the workspace standing in for the default blob datastore."""
        from .datastore import Datastore

        return Datastore(self, "workspaceblobstore")

    @property
    def datasets(self) -> dict[str, Any]:
        from .dataset import _registered_datasets

        return _registered_datasets(self)

    def get_run(self, run_id: str) -> Any:
        """The run ``run_id`` of any experiment of this workspace."""
        from .run import get_run_by_id

        return get_run_by_id(self, run_id)

    def __repr__(self) -> str:
        return (f"Workspace.create(name='{self._name}', subscription_id='{self._subscription_id}', "
                f"resource_group='{self._resource_group}')")
