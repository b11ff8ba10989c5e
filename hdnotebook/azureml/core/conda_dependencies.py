"""``CondaDependencies``: a package list kept for show; trials use this kernel's Python."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["CondaDependencies", "missing_distributions"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
#: conda packages that are not Python distributions (never reported missing)
_NOT_PYTHON = {"python", "pip", "cudatoolkit", "cudnn", "nccl", "mkl", "openmpi", "libgcc", "conda"}
#: conda names whose Python distribution is named otherwise
_DISTRIBUTION = {"pytorch": "torch", "scikit-learn": "scikit-learn", "tensorflow-gpu": "tensorflow",
                 "py-xgboost": "xgboost"}


def _names(specs: Iterable[str]) -> list[str]:
    names = []
    for spec in specs:
        match = _NAME.match(spec.split("::")[-1])
        if match:
            names.append(match.group(1).lower())
    return names


def missing_distributions(specs: Iterable[str]) -> list[str]:
    """The packages of ``specs`` (``"numpy==1.24"``, ``"pytorch"``) not installed in this Python."""
    from importlib import metadata

    missing = []
    for name in _names(specs):
        if name in _NOT_PYTHON or name.startswith("azureml"):
            continue
        try:
            metadata.distribution(_DISTRIBUTION.get(name, name))
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


class CondaDependencies:
    """Conda and pip package lists (``CondaDependencies.create(pip_packages=[...])``)."""

    def __init__(self, conda_dependencies_file_path: str | None = None, _underlying_structure: Any = None) -> None:
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.channels: list[str] = ["conda-forge"]
        self.python_version: str | None = None
        if conda_dependencies_file_path is not None:
            self._read(conda_dependencies_file_path)

    @staticmethod
    def create(pip_indexurl: str | None = None, pip_packages: Iterable[str] | None = None,
               conda_packages: Iterable[str] | None = None, python_version: str | None = None,
               pin_sdk_version: bool = True) -> CondaDependencies:
        deps = CondaDependencies()
        deps.pip_packages = list(pip_packages or [])
        deps.conda_packages = list(conda_packages or [])
        deps.python_version = python_version
        return deps

    def add_conda_package(self, conda_package: str) -> None:
        self.conda_packages.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        self.pip_packages.append(pip_package)

    def add_channel(self, channel: str) -> None:
        self.channels.append(channel)

    def set_python_version(self, version: str) -> None:
        self.python_version = version

    def serialize_to_string(self) -> str:
        lines = ["channels:", *(f"- {c}" for c in self.channels), "dependencies:"]
        if self.python_version:
            lines.append(f"- python={self.python_version}")
        lines += [f"- {p}" for p in self.conda_packages]
        if self.pip_packages:
            lines += ["- pip:", *(f"  - {p}" for p in self.pip_packages)]
        return "\n".join(lines) + "\n"

    def save(self, path: str) -> str:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.serialize_to_string())
        return path

    save_to_file = save

    def _read(self, path: str) -> None:
        """A conda ``environment.yml``: its channels, conda packages and ``pip:`` list."""
        section, pip_indent = "", -1
        self.channels = []
        with open(path, encoding="utf-8") as fh:
            for raw in fh:
                line = raw.split("#", 1)[0].rstrip()
                if not line.strip():
                    continue
                indent = len(line) - len(line.lstrip())
                item = line.strip()
                if not item.startswith("- "):
                    if indent == 0:
                        section, pip_indent = item.rstrip(":").strip(), -1
                    continue
                value = item[2:].strip()
                if value == "pip:":
                    pip_indent = indent
                elif 0 <= pip_indent < indent:
                    self.pip_packages.append(value)
                elif section == "channels":
                    self.channels.append(value)
                elif section == "dependencies":
                    pip_indent = -1
                    if value.startswith("python") and _names([value]) == ["python"]:
                        self.python_version = value[len("python"):].lstrip("=<> ") or None
                    else:
                        self.conda_packages.append(value)

    def missing(self) -> list[str]:
        """Packages listed here that this Python does not have."""
        return missing_distributions([*self.conda_packages, *self.pip_packages])
