"""What the cloud-only objects of the mirror do on this machine, said once per process."""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["announce", "machine_summary"]

_SAID: set[str] = set()
_LOCK = threading.Lock()


def announce(key: str, message: str) -> None:
    """Print ``message`` (one line) the first time ``key`` comes up in this process.

    >>> announce("doc-example", "compute target 'x': trials run on this machine")
    hdnotebook.azureml: compute target 'x': trials run on this machine
    >>> announce("doc-example", "said once")
    """
    with _LOCK:
        if key in _SAID:
            return
        _SAID.add(key)
    print(f"hdnotebook.azureml: {message}", file=sys.stdout, flush=True)


def machine_summary() -> str:
    """``"4 CPUs, 1 GPU"``: what trials run on here."""
    from ..engine.gpus import detect_gpus

    cpus = os.cpu_count() or 1
    try:
        gpus = len(detect_gpus())
    except Exception:  # a broken nvidia-smi must not stop a stand-in
        gpus = 0
    return f"{cpus} CPU{'s' if cpus != 1 else ''}, {gpus} GPU{'s' if gpus != 1 else ''}"
