"""What a trial runs: a Python script as its own process (SPEC §9), described as plain data."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

__all__ = ["ScriptRunConfig", "Estimator", "check_gpus"]


def check_gpus(owner: str, gpus: Any) -> float:
    """Validate a GPU request: 0, a whole number, or a fraction that shares one GPU (0.5, 0.25)."""
    if gpus is None:
        return 0.0
    if isinstance(gpus, bool) or not isinstance(gpus, Real) or not math.isfinite(float(gpus)):
        raise TypeError(f"{owner}: gpus must be a number >= 0 (e.g. 1, 2 or 0.5), got {gpus!r}")
    value = float(gpus)
    if value < 0:
        raise ValueError(f"{owner}: gpus must be >= 0, got {gpus!r}")
    if value > 1 and not value.is_integer():
        raise ValueError(
            f"{owner}: gpus above 1 must be a whole number (2, 4, ...), got {gpus!r}; fractions "
            "share one GPU (0.5 runs two trials per GPU)"
        )
    return value


def check_seconds(name: str, value: Any) -> float | None:
    """A duration in seconds: ``None`` or a finite number > 0 (the one check for time limits)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number of seconds > 0 (e.g. 3600), got {value!r}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0 (e.g. 3600), got {value!r}")
    return float(value)



class ScriptRunConfig:
    """Run ``script`` from ``source_directory`` as its own process.

    The process gets ``arguments`` first, then each sampled hyperparameter as ``--name value`` in
    the order of the search space (SPEC §6). Inside the script, ``Run.get_context()`` is the trial.

    Args:
        source_directory: folder the script runs in (its working directory).
        script: path of the script, relative to ``source_directory``.
        arguments: fixed command-line arguments, e.g. ``["--data-folder", "data"]``.
        gpus: GPUs the trial needs (0, whole numbers, or a fraction such as 0.5).
        max_run_duration_seconds: optional limit on each trial's wall-clock time; the trial is
            Canceled with that reason when it is reached, its values kept (HyperDriveConfig's own
            limit applies too; the smaller wins).
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str,
        arguments: Sequence[Any] | None = None,
        gpus: float = 0,
        max_run_duration_seconds: float | None = None,
    ) -> None:
        if not isinstance(script, str) or not script:
            raise TypeError(f"ScriptRunConfig: script must be a file name, got {script!r}")
        self.source_directory = os.fspath(source_directory)
        self.script = script
        if arguments is not None and (isinstance(arguments, (str, bytes)) or not isinstance(arguments, Sequence)):
            raise TypeError(
                f"ScriptRunConfig: arguments must be a list such as ['--data-folder', 'data'], got {arguments!r}"
            )
        self.arguments = [str(a) for a in (arguments or [])]
        self.gpus = check_gpus("ScriptRunConfig", gpus)
        self.max_run_duration_seconds = check_seconds(
            "ScriptRunConfig: max_run_duration_seconds", max_run_duration_seconds
        )

    @property
    def script_path(self) -> str:
        return os.path.join(self.source_directory, self.script)

    def __repr__(self) -> str:
        return (
            f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r}, "
            f"arguments={self.arguments!r}, gpus={self.gpus:g}"
            + (f", max_run_duration_seconds={self.max_run_duration_seconds:g}" if self.max_run_duration_seconds else "")
            + ")"
        )


class Estimator(ScriptRunConfig):
    """HyperDrive's ``Estimator``: a script with ``script_params`` as fixed arguments.

    Args:
        source_directory: folder the script runs in.
        entry_script: the script to run.
        script_params: fixed arguments as a dict, e.g. ``{"--data-folder": "data"}``.
        use_gpu: whether the trial needs a GPU (one, unless ``gpus`` says otherwise).
        gpus: GPUs per trial; overrides ``use_gpu``.
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        entry_script: str,
        script_params: Mapping[str, Any] | None = None,
        use_gpu: bool = False,
        gpus: float | None = None,
    ) -> None:
        if script_params is not None and not isinstance(script_params, Mapping):
            raise TypeError(
                f"Estimator: script_params must be a dict such as {{'--data-folder': 'data'}}, got {script_params!r}"
            )
        arguments: list[Any] = []
        for key, value in (script_params or {}).items():
            arguments.append(key)
            if value is not None:
                arguments.append(value)
        gpu_count = gpus if gpus is not None else (1 if use_gpu else 0)
        super().__init__(source_directory, entry_script, arguments, gpus=gpu_count)
        self.entry_script = entry_script
        self.script_params = dict(script_params or {})
        self.use_gpu = bool(use_gpu or self.gpus)
