"""``azure.ai.ml.exceptions`` names raised by this mirror.

``ml_client.jobs.stream(name)`` raises :class:`JobException` when the job failed, as v2 does;
``ml_client.jobs.get(name)`` raises :class:`ResourceNotFoundError` for a name it does not know.
"""

from __future__ import annotations

__all__ = ["MlException", "JobException", "ValidationException", "ResourceNotFoundError"]


class MlException(Exception):
    """Base class of this mirror's errors."""


class JobException(MlException):
    """A job failed, or is not in a state that allows the call (e.g. download before it ended)."""


class ValidationException(MlException, ValueError):
    """A job definition that cannot run."""


class ResourceNotFoundError(MlException, LookupError):
    """No job (or asset) with that name (``azure.core.exceptions.ResourceNotFoundError`` in v2)."""
