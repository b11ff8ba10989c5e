"""GPU discovery and slots: which GPUs a trial gets, never more than there are.

Discovery order: ``HDNOTEBOOK_GPUS`` (tests and overrides: a count ``"2"`` or ids ``"0,1"``),
then ``CUDA_VISIBLE_DEVICES``, then ``nvidia-smi``. A trial may ask for whole GPUs (1, 2, ...)
or a fraction of one (0.5: two trials share a GPU); the trial then sees only its GPUs through
``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

__all__ = ["detect_gpus", "GpuSlots"]

ENV_OVERRIDE = "HDNOTEBOOK_GPUS"


def _parse_ids(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip() and t.strip() != "-1"]


def detect_gpus() -> list[str]:
    """The GPU ids this machine offers to trials (strings, as ``CUDA_VISIBLE_DEVICES`` takes)."""
    override = os.environ.get(ENV_OVERRIDE)
    if override is not None:
        override = override.strip()
        return [str(i) for i in range(int(override))] if override.isdigit() else _parse_ids(override)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return _parse_ids(visible)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]


class GpuSlots:
    """Hands out GPUs to trials without overbooking; fractions share one GPU.

    >>> slots = GpuSlots(["0", "1"])
    >>> slots.capacity(0.5)
    4
    >>> a = slots.acquire(0.5); b = slots.acquire(0.5); (a, b)
    (['0'], ['0'])
    """

    def __init__(self, gpu_ids: list[str]) -> None:
        self.gpu_ids = list(gpu_ids)
        self._free = {g: 1.0 for g in self.gpu_ids}
        self._lock = threading.Lock()

    def capacity(self, per_trial: float) -> int | None:
        """How many trials asking ``per_trial`` GPUs fit at once (``None``: no GPU asked)."""
        if per_trial <= 0:
            return None
        if per_trial < 1:
            return len(self.gpu_ids) * int(1 / per_trial + 1e-9)
        return len(self.gpu_ids) // int(per_trial)

    def acquire(self, per_trial: float) -> list[str] | None:
        """Reserve GPUs for one trial; ``None`` when they are not free now."""
        if per_trial <= 0:
            return []
        with self._lock:
            if per_trial < 1:
                fits = [g for g in self.gpu_ids if self._free[g] + 1e-9 >= per_trial]
                if not fits:
                    return None
                # best fit: fill GPUs that are already shared before opening a fresh one
                gpu = min(fits, key=lambda g: (self._free[g], self.gpu_ids.index(g)))
                self._free[gpu] -= per_trial
                return [gpu]
            need = int(per_trial)
            whole = [g for g in self.gpu_ids if self._free[g] >= 1 - 1e-9]
            if len(whole) < need:
                return None
            chosen = whole[:need]
            for g in chosen:
                self._free[g] = 0.0
            return chosen

    def available(self) -> float:
        """The GPU capacity free now, in GPUs (all of it when no trial holds a slot)."""
        with self._lock:
            return round(sum(self._free.values()), 9)

    def release(self, gpus: list[str], per_trial: float) -> None:
        with self._lock:
            for g in gpus:
                self._free[g] = min(1.0, self._free[g] + (per_trial if per_trial < 1 else 1.0))
