"""Notebook widgets: :class:`RunDetails`, the live view of an experiment run (SPEC §7)."""

from .run_details import RunDetails

__all__ = ["RunDetails"]
