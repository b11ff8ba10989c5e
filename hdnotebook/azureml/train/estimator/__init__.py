"""``Estimator`` (``azureml.train.estimator``) with the SDK's keyword arguments.

An estimator is a script with fixed ``script_params``; in a HyperDrive experiment, a fixed
argument that a sampled parameter repeats is dropped, with a warning (as the SDK does).
Package lists (``pip_packages``, ``conda_packages``) are checked against this Python and
reported once; nothing is installed.

>>> est = Estimator(source_directory="./src", entry_script="train.py",
...                 script_params={"--data-folder": "data"}, compute_target=target)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...core.environment import Environment
from ...core.script_run_config import ScriptRunConfig, _argument_text

__all__ = ["Estimator", "MMLBaseEstimator"]


class Estimator(ScriptRunConfig):
    """A training script and its fixed ``script_params`` (``{"--data-folder": "data"}``).

    ``use_gpu=True`` gives each trial one GPU. The other arguments of the SDK are accepted;
    compute, Docker and conda settings are stand-ins (trials run here, with this Python).
    """

    _framework = "Custom"

    def __init__(self, source_directory: str | os.PathLike[str], *, compute_target: Any = None,
                 vm_size: str | None = None, vm_priority: str | None = None, entry_script: str | None = None,
                 script_params: Mapping[str, Any] | None = None, node_count: int = 1,
                 process_count_per_node: int = 1, distributed_backend: Any = None, distributed_training: Any = None,
                 use_gpu: bool = False, use_docker: bool = True, custom_docker_base_image: str | None = None,
                 custom_docker_image: str | None = None, image_registry_details: Any = None,
                 user_managed: bool = False, conda_packages: list[str] | None = None,
                 pip_packages: list[str] | None = None, conda_dependencies_file_path: str | None = None,
                 pip_requirements_file_path: str | None = None, conda_dependencies_file: str | None = None,
                 pip_requirements_file: str | None = None, environment_variables: dict[str, str] | None = None,
                 environment_definition: Any = None, inputs: Any = None, source_directory_data_store: Any = None,
                 shm_size: str | None = None, resume_from: Any = None, max_run_duration_seconds: int | None = None,
                 framework_version: str | None = None, gpus: float | None = None, **_ignored: Any) -> None:
        if entry_script is None:
            raise TypeError(f"{type(self).__name__}: entry_script is required (the script in source_directory to run)")
        if script_params is not None and not isinstance(script_params, Mapping):
            raise TypeError(f"{type(self).__name__}: script_params must be a dict such as "
                            f"{{'--data-folder': 'data'}}, got {script_params!r}")
        self.script_params = dict(script_params or {})
        environment = environment_definition or self._environment(
            conda_packages, pip_packages, conda_dependencies_file_path or conda_dependencies_file, source_directory,
            environment_variables, framework_version)
        super().__init__(source_directory, entry_script, _flatten(self.script_params), compute_target=compute_target,
                         environment=environment, resume_from=resume_from,
                         max_run_duration_seconds=max_run_duration_seconds,
                         gpus=gpus if gpus is not None else (1 if use_gpu else 0))
        self.entry_script = entry_script
        self.use_gpu = bool(use_gpu or self.gpus)
        self.framework_version = framework_version
        self.node_count = node_count
        if environment_variables:
            self.environment_variables.update({str(k): str(v) for k, v in environment_variables.items()})

    def _environment(self, conda_packages: Any, pip_packages: Any, conda_file: str | None, source_directory: Any,
                     variables: Any, framework_version: str | None) -> Environment:
        env = Environment(f"{type(self).__name__}-{framework_version}" if framework_version else type(self).__name__)
        if conda_file:
            path = conda_file if os.path.isabs(conda_file) else os.path.join(os.fspath(source_directory), conda_file)
            if os.path.isfile(path):
                from ...core.conda_dependencies import CondaDependencies

                env.python.conda_dependencies = CondaDependencies(path)
        deps = env.python.conda_dependencies
        deps.conda_packages += list(conda_packages or [])
        deps.pip_packages += list(pip_packages or [])
        env.environment_variables = dict(variables or {})
        env._announce()
        return env

    def without_arguments(self, names: set[str]) -> Estimator:
        """A copy whose fixed ``script_params`` leave out ``names`` (compared without leading dashes)."""
        import copy

        clone = copy.copy(self)
        clone.script_params = {k: v for k, v in self.script_params.items() if k.lstrip("-") not in names}
        clone.arguments = [_argument_text(a) for a in _flatten(clone.script_params)]
        if self.resume_from is not None:
            clone.arguments += ["--resume-from", _argument_text(self.resume_from)]
        return clone


MMLBaseEstimator = Estimator


def _flatten(script_params: Mapping[str, Any]) -> list[Any]:
    arguments: list[Any] = []
    for key, value in script_params.items():
        arguments.append(key)
        if value is not None and value != "":
            arguments.append(value)
    return arguments
