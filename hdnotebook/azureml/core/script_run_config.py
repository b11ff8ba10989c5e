"""``ScriptRunConfig`` (``azureml.core.script_run_config``) with the SDK's arguments.

``compute_target`` and ``environment`` are local stand-ins (trials run here, with this Python);
``environment.environment_variables`` reach the script; ``max_run_duration_seconds`` is each
run's time limit (the engine cancels a run that reaches it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ...estimator import ScriptRunConfig as _EngineScriptRunConfig

__all__ = ["ScriptRunConfig"]

#: the SDK's default limit: 30 days
MAX_DURATION_SECONDS_DEFAULT = 2592000


def _argument_text(value: Any) -> str:
    """A script argument as text; a dataset or data path given as an argument becomes its local path."""
    local = getattr(value, "_local_path", None)
    return str(local) if local is not None else str(value)


class ScriptRunConfig(_EngineScriptRunConfig):
    """A training script to run: ``ScriptRunConfig(source_directory, script, arguments, compute_target, environment)``.

    Args:
        source_directory: the folder with the script (a snapshot of it is what runs).
        script: the script's path relative to ``source_directory``.
        arguments: its command-line arguments, e.g. ``['--kernel', 'linear', '--penalty', 1.0]``.
        compute_target: a compute target or its name (this machine either way).
        environment: an :class:`~hdnotebook.azureml.core.Environment` (this Python; its
            ``environment_variables`` are set for the script).
        max_run_duration_seconds: the run's time limit: past it the run is Canceled (its values kept).
        resume_from: a folder of checkpoint files, passed as ``--resume-from <folder>``.
    """

    MAX_DURATION_SECONDS_DEFAULT = MAX_DURATION_SECONDS_DEFAULT

    def __init__(self, source_directory: str | os.PathLike[str], script: str | None = None,
                 arguments: Sequence[Any] | None = None, run_config: Any = None, _telemetry_values: Any = None,
                 compute_target: Any = None, environment: Any = None, distributed_job_config: Any = None,
                 resume_from: Any = None, max_run_duration_seconds: int | None = MAX_DURATION_SECONDS_DEFAULT,
                 command: Any = None, docker_runtime_config: Any = None, *, gpus: float = 0) -> None:
        if script is None and command is not None:
            parts = command.split() if isinstance(command, str) else [str(c) for c in command]
            if len(parts) >= 2 and parts[0] in ("python", "python3") and parts[1].endswith(".py"):
                script, arguments = parts[1], [*parts[2:], *(arguments or [])]
        if script is None:
            raise TypeError("ScriptRunConfig: give script= (the training script relative to source_directory), "
                            "or command=['python', 'train.py', ...]")
        args = [_argument_text(a) for a in (arguments or [])]
        if resume_from is not None:
            args += ["--resume-from", _argument_text(resume_from)]
        if max_run_duration_seconds == MAX_DURATION_SECONDS_DEFAULT:  # the SDK's "no limit of your own"
            max_run_duration_seconds = None
        super().__init__(source_directory, script, args, gpus=gpus, max_run_duration_seconds=max_run_duration_seconds)
        self.run_config = run_config
        self.compute_target = compute_target
        self.environment = environment
        self.distributed_job_config = distributed_job_config
        self.resume_from = resume_from
        self.command = command
        env_vars = getattr(environment, "environment_variables", None) or {}
        self.environment_variables = {str(k): str(v) for k, v in env_vars.items()}
        if isinstance(compute_target, str) and compute_target != "local":
            from .compute import ComputeTarget  # says once what the target is here

            ComputeTarget(None, compute_target)
