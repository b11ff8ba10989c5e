"""``RunConfiguration`` (``azureml.core.runconfig``): kept for the notebooks that build one."""

from __future__ import annotations

from typing import Any

from .environment import Environment

__all__ = ["RunConfiguration", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]

DEFAULT_CPU_IMAGE = "local"
DEFAULT_GPU_IMAGE = "local"


class RunConfiguration:
    """Target, environment and script settings; trials run here whatever they say."""

    def __init__(self, script: str | None = None, arguments: list[Any] | None = None,
                 framework: str | None = None, communicator: str | None = None, conda_dependencies: Any = None,
                 _history_enabled: Any = None, _path: Any = None, _name: Any = None, command: Any = None) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.target = "local"
        self.environment = Environment("default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.node_count = 1
        self.max_run_duration_seconds: int | None = None
