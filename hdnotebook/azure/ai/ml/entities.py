"""``azure.ai.ml.entities`` as v2 sweep samples use it.

Jobs: :class:`Command` (what ``command(...)`` returns), :class:`SweepJob`, and :class:`CommandJob`, a
submitted command or one trial of a sweep as ``ml_client.jobs.get``/``list`` return it.
Cloud assets (:class:`AmlCompute`, :class:`ComputeInstance`, :class:`Environment`, :class:`Model`,
:class:`Data`) are inert local stand-ins: they keep what they are given, and
``ml_client.compute``/``environments``/``models``/``data`` hand them back::

    >>> cluster = AmlCompute(name="cpu-cluster", size="STANDARD_DS3_V2", min_instances=0, max_instances=4)
    >>> cluster.name, cluster.size
    ('cpu-cluster', 'STANDARD_DS3_V2')
"""

from __future__ import annotations

from typing import Any

from ._command import Command, SweepJob

__all__ = [
    "AmlCompute",
    "BuildContext",
    "Command",
    "CommandJob",
    "ComputeInstance",
    "Data",
    "Environment",
    "Job",
    "Model",
    "SweepJob",
]


class _Asset:
    """A cloud asset kept as given: ``name``, ``version``, ``description``, ``tags`` and the rest."""

    type: str | None = None

    def __init__(self, *, name: str | None = None, version: str | None = None, description: str | None = None,
                 tags: dict[str, str] | None = None, **kwargs: Any) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.tags = dict(tags or {})
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if v not in (None, {}, [])}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class AmlCompute(_Asset):
    """A compute cluster: kept, not created; jobs run on this machine."""

    def __init__(self, *, name: str | None = None, type: str = "amlcompute", size: str | None = None,  # noqa: A002
                 **kwargs: Any) -> None:
        super().__init__(name=name, type=type, size=size, **kwargs)


class ComputeInstance(_Asset):
    """A compute instance: kept, not created."""

    def __init__(self, *, name: str | None = None, size: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, type="computeinstance", size=size, **kwargs)


class Environment(_Asset):
    """A software environment: kept, not built; jobs run in this kernel's Python environment."""

    def __init__(self, *, name: str | None = None, image: str | None = None, conda_file: Any = None, **kwargs: Any
                 ) -> None:
        super().__init__(name=name, image=image, conda_file=conda_file, **kwargs)


class BuildContext(_Asset):
    """A Docker build context for an environment: kept, not built."""


class Model(_Asset):
    """A model: ``path`` (local, or ``azureml://jobs/<job>/outputs/...``) and ``type`` are kept."""

    def __init__(self, *, name: str | None = None, path: Any = None, type: str = "custom_model",  # noqa: A002
                 **kwargs: Any) -> None:
        super().__init__(name=name, path=path, type=type, **kwargs)


class Data(_Asset):
    """A data asset: ``path`` and ``type`` are kept."""

    def __init__(self, *, name: str | None = None, path: Any = None, type: str = "uri_folder",  # noqa: A002
                 **kwargs: Any) -> None:
        super().__init__(name=name, path=path, type=type, **kwargs)


class Job:
    """What every submitted job has: ``name``, ``display_name``, ``status``, ``experiment_name``,
    ``properties``, ``tags``, ``studio_url``, ``creation_context`` (``created_at``), ``type``."""

    type = "job"

    def __init__(self, **fields: Any) -> None:
        self.name: str | None = None
        self.display_name: str | None = None
        self.status: str | None = None
        self.experiment_name: str | None = None
        self.properties: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.studio_url: str | None = None
        self.creation_context: Any = None
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def id(self) -> str | None:
        return self.name

    def _repr_html_(self) -> str:
        rows = {"Experiment": self.experiment_name, "Name": self.name, "Type": self.type, "Status": self.status}
        head = "".join(f"<th>{k}</th>" for k in rows)
        body = "".join(f"<td>{'' if v is None else v}</td>" for v in rows.values())
        return f"<table style='width:100%'><tr>{head}</tr><tr>{body}</tr></table>"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, status={self.status!r}, experiment_name={self.experiment_name!r})"


class CommandJob(Job):
    """A submitted command, or one trial of a sweep: also ``command`` (filled in), ``inputs``,
    ``outputs`` (with the trial's own folders), ``code`` and ``parent_job_name``."""

    type = "command"

    def __init__(self, **fields: Any) -> None:
        self.command: str | None = None
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.code: str | None = None
        self.parent_job_name: str | None = None
        super().__init__(**fields)


class _CreationContext:
    """When the job was created (``created_at``, an ISO time) and by whom (``created_by``)."""

    def __init__(self, created_at: str | None, created_by: str = "local") -> None:
        self.created_at = created_at
        self.created_by = created_by

    def __repr__(self) -> str:
        return f"CreationContext(created_at={self.created_at!r}, created_by={self.created_by!r})"
