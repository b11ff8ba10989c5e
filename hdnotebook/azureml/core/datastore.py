"""``Datastore``: a folder of the workspace standing in for blob storage."""

from __future__ import annotations

import os
import shutil
from typing import Any

from .._local import announce

__all__ = ["Datastore", "DataReference"]


class DataReference:
    """A path in a datastore; as a script argument it is the local folder (``as_mount()``)."""

    def __init__(self, datastore: Datastore, path_on_datastore: str | None = None) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore or ""

    @property
    def _local_path(self) -> str:
        return os.path.join(self.datastore.root, self.path_on_datastore)

    def as_mount(self) -> DataReference:
        return self

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self

    def __str__(self) -> str:
        return self._local_path


class Datastore:
    """``workspace.get_default_datastore()``: ``upload`` copies into ``<workspace>/datastores/<name>``."""

    def __init__(self, workspace: Any, name: str | None = None) -> None:
        self.workspace = workspace
        self.name = name or "workspaceblobstore"
        self.datastore_type = "AzureBlob"
        self.root = os.path.join(workspace.path, "datastores", self.name)
        announce(f"datastore:{self.name}", f"datastore {self.name!r}: a folder, {self.root}")

    @staticmethod
    def get(workspace: Any, datastore_name: str) -> Datastore:
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Any) -> Datastore:
        return Datastore(workspace)

    def upload(self, src_dir: str, target_path: str | None = None, overwrite: bool = False,
               show_progress: bool = True) -> DataReference:
        target = os.path.join(self.root, target_path or "")
        shutil.copytree(src_dir, target, dirs_exist_ok=True)
        return DataReference(self, target_path)

    def upload_files(self, files: list[str], relative_root: str | None = None, target_path: str | None = None,
                     overwrite: bool = False, show_progress: bool = True) -> DataReference:
        for path in files:
            relative = os.path.relpath(path, relative_root) if relative_root else os.path.basename(path)
            destination = os.path.join(self.root, target_path or "", relative)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copyfile(path, destination)
        return DataReference(self, target_path)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        return DataReference(self, path)

    def as_mount(self) -> DataReference:
        return DataReference(self)
