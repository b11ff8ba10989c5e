"""``Dataset`` for local files: ``Dataset.File.from_files`` / ``Dataset.Tabular.from_delimited_files``.

A dataset is the local files it names; given as a script argument (``ds.as_mount()``,
``ds.as_named_input("x").as_download()``) it becomes their local path.
"""

from __future__ import annotations

import glob
import os
from typing import Any

__all__ = ["Dataset", "FileDataset", "TabularDataset"]

_REGISTERED: dict[str, dict[str, Any]] = {}


def _local(path: Any) -> str:
    if isinstance(path, tuple):  # (datastore, "relative/path")
        datastore, relative = path
        return os.path.join(datastore.root, relative)
    local = getattr(path, "_local_path", None)
    return str(local) if local is not None else os.fspath(path)


class _LocalDataset:
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.name: str | None = None
        self.version: int | None = None

    @property
    def _local_path(self) -> str:
        if len(self.paths) == 1:
            return self.paths[0]
        return os.path.commonpath([os.path.abspath(p) for p in self.paths])

    def as_named_input(self, name: str) -> _LocalDataset:
        return self

    def as_mount(self, path_on_compute: str | None = None) -> _LocalDataset:
        return self

    def as_download(self, path_on_compute: str | None = None) -> _LocalDataset:
        return self

    def register(self, workspace: Any, name: str, description: str | None = None, tags: Any = None,
                 create_new_version: bool = False) -> _LocalDataset:
        self.name = name
        self.version = (getattr(_REGISTERED.get(workspace.path, {}).get(name), "version", 0) or 0) + 1
        _REGISTERED.setdefault(workspace.path, {})[name] = self
        return self

    def __str__(self) -> str:
        return self._local_path


class FileDataset(_LocalDataset):
    def to_path(self) -> list[str]:
        files = []
        for path in self.paths:
            if os.path.isdir(path):
                files += [os.path.relpath(f, path) for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                          if os.path.isfile(f)]
            else:
                files.append(os.path.basename(path))
        return sorted(files)

    def download(self, target_path: str | None = None, overwrite: bool = False) -> list[str]:
        return [os.path.abspath(p) for p in self.paths]


class TabularDataset(_LocalDataset):
    def __init__(self, paths: list[str], separator: str = ",", header: Any = True) -> None:
        super().__init__(paths)
        self.separator = separator
        self.header = header

    def to_pandas_dataframe(self) -> Any:
        import pandas as pd

        frames = [pd.read_csv(p, sep=self.separator, header=0 if self.header else None)
                  for p in self.paths for p in (sorted(glob.glob(p)) or [p])]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


class _FileFactory:
    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: Any = None,
                   is_file: bool = False) -> FileDataset:
        paths = path if isinstance(path, list) else [path]
        return FileDataset([_local(p) for p in paths])


class _TabularFactory:
    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: Any = None,
                             separator: str = ",", header: Any = True, **kwargs: Any) -> TabularDataset:
        paths = path if isinstance(path, list) else [path]
        return TabularDataset([_local(p) for p in paths], separator=separator, header=header)


class Dataset:
    """``Dataset.File.from_files(path)``, ``Dataset.Tabular.from_delimited_files(path)``,
    ``Dataset.get_by_name(ws, name)``: datasets of local files."""

    File = _FileFactory
    Tabular = _TabularFactory

    @staticmethod
    def get_by_name(workspace: Any, name: str, version: str = "latest") -> Any:
        found = _REGISTERED.get(workspace.path, {}).get(name)
        if found is None:
            raise KeyError(f"Dataset.get_by_name: no dataset {name!r} registered in this kernel "
                           f"(registered: {sorted(_REGISTERED.get(workspace.path, {})) or 'none'})")
        return found


def _registered_datasets(workspace: Any) -> dict[str, Any]:
    return dict(_REGISTERED.get(workspace.path, {}))
