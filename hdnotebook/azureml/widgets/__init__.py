"""``azureml.widgets``: ``RunDetails(run).show()`` for a HyperDrive run or a single script run."""

from __future__ import annotations

from typing import Any

from ...widgets import RunDetails as _EngineRunDetails

__all__ = ["RunDetails"]


class RunDetails(_EngineRunDetails):
    """The live view of a run: a ``HyperDriveRun``, or a ``ScriptRun`` (its experiment run is shown).

    >>> RunDetails(hyperdrive_run).show()     # doctest: +SKIP
    """

    def __init__(self, run_instance: Any, poll_seconds: float = 0.25, **kwargs: Any) -> None:
        run = getattr(run_instance, "experiment_run", None) or run_instance
        super().__init__(run, poll_seconds=poll_seconds, **kwargs)
