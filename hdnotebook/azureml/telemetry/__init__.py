"""``azureml.telemetry``: nothing is collected or sent."""

from __future__ import annotations

from .._local import announce

__all__ = ["set_diagnostics_collection", "get_diagnostics_collection_info"]


def set_diagnostics_collection(send_diagnostics: bool = True, path: str | None = None,
                               reset: bool = False) -> None:
    """Accepted for compatibility: hdnotebook collects and sends no diagnostics."""
    announce("telemetry", "diagnostics: nothing is collected or sent")


def get_diagnostics_collection_info(component_name: str | None = None, path: str | None = None) -> dict[str, bool]:
    return {"sendDiagnostics": False}
