"""``Environment`` (``azureml.core.environment``): trials use this kernel's Python.

Nothing is built or installed: an environment keeps its name, packages and variables, says once
which of its packages this Python lacks, and its ``environment_variables`` reach the trials.

>>> env = Environment.from_pip_requirements("sk", "requirements.txt")   # doctest: +SKIP
hdnotebook.azureml: environment 'sk': trials use this kernel's Python (/usr/bin/python3); nothing is installed
"""

from __future__ import annotations

import sys
from typing import Any

from .._local import announce
from .conda_dependencies import CondaDependencies, missing_distributions

__all__ = ["Environment", "PythonSection", "DockerSection"]

_REGISTERED: dict[str, dict[str, "Environment"]] = {}


class PythonSection:
    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path = sys.executable
        self.conda_dependencies_file: str | None = None


class DockerSection:
    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.shm_size: str | None = None
        self.gpu_support = False
        self.arguments: list[str] = []


class Environment:
    """A named environment; trials run with this kernel's Python whatever it lists.

    Args:
        name: the environment's name.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Environment(name): name must be a non-empty string, got {name!r}")
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None

    def _announce(self) -> None:
        missing = self.python.conda_dependencies.missing()
        note = f"; not installed here: {', '.join(missing)}" if missing else ""
        announce(f"environment:{self.name}",
                 f"environment {self.name!r}: trials use this kernel's Python ({sys.executable}); "
                 f"nothing is installed{note}")

    # -- making one ------------------------------------------------------------------------------
    @staticmethod
    def get(workspace: Any, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment, or (curated names) an empty one of that name."""
        env = _REGISTERED.get(getattr(workspace, "path", ""), {}).get(name) or Environment(name)
        env._announce()
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str) -> Environment:
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        env.python.conda_dependencies_file = file_path
        env._announce()
        return env

    @staticmethod
    def from_pip_requirements(name: str, file_path: str, pip_version: str | None = None) -> Environment:
        env = Environment(name)
        with open(file_path, encoding="utf-8") as fh:
            env.python.conda_dependencies.pip_packages = [
                line.strip() for line in fh if line.strip() and not line.lstrip().startswith(("#", "-"))]
        env._announce()
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> Environment:
        env = Environment(name)
        env._announce()
        return env

    @staticmethod
    def from_dockerfile(name: str, dockerfile: str, conda_specification: str | None = None,
                        pip_requirements: str | None = None) -> Environment:
        env = Environment(name)
        env.docker.base_dockerfile = dockerfile
        if conda_specification:
            env.python.conda_dependencies = CondaDependencies(conda_specification)
        env._announce()
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: Any = None,
                          conda_specification: str | None = None, pip_requirements: str | None = None) -> Environment:
        env = Environment(name)
        env.docker.base_image = image
        env._announce()
        return env

    @staticmethod
    def list(workspace: Any) -> dict[str, Environment]:
        return dict(_REGISTERED.get(getattr(workspace, "path", ""), {}))

    def register(self, workspace: Any) -> Environment:
        """Keep it in ``workspace.environments`` (for this kernel)."""
        _REGISTERED.setdefault(workspace.path, {})[self.name] = self
        self.version = str(int(self.version or 0) + 1)
        return self

    def build(self, workspace: Any, image_build_compute: Any = None) -> Any:
        """Nothing to build: returns a finished build whose ``wait_for_completion`` returns."""
        self._announce()
        return _FinishedBuild()

    def build_local(self, workspace: Any, platform: Any = None, **kwargs: Any) -> Any:
        return self.build(workspace)

    def clone(self, new_name: str) -> Environment:
        import copy

        env = copy.deepcopy(self)
        env.name = new_name
        return env

    def missing_packages(self) -> list[str]:
        """Packages this environment lists that this Python does not have."""
        return missing_distributions([*self.python.conda_dependencies.conda_packages,
                                      *self.python.conda_dependencies.pip_packages])

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r}, local=True)"


class _FinishedBuild:
    def wait_for_completion(self, show_output: bool = False) -> None:
        return None

    def get_status(self) -> str:
        return "Succeeded"


def _registered(workspace: Any) -> dict[str, Environment]:
    return dict(_REGISTERED.get(workspace.path, {}))
