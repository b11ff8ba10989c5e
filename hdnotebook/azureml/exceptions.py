"""The exception names of ``azureml.exceptions`` that notebooks catch."""

from __future__ import annotations

__all__ = [
    "AzureMLException", "UserErrorException", "ActivityFailedException", "ExperimentExecutionException",
    "ComputeTargetException", "WebserviceException", "ModelNotFoundException", "TrainingException",
]


class AzureMLException(Exception):
    """Base of the mirror's exceptions (as ``azureml.exceptions.AzureMLException``)."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(message, *args)
        self.message = message


class UserErrorException(AzureMLException):
    """Bad input: the message names the parameter, what was given and what is allowed."""


class ActivityFailedException(AzureMLException):
    """``wait_for_completion(raise_on_error=True)`` on a run that Failed; carries its error."""

    def __init__(self, error_details: str = "") -> None:
        super().__init__(f"ActivityFailedException:\n{error_details}")
        self.error_details = error_details


class ExperimentExecutionException(AzureMLException):
    """A run could not be submitted or followed."""


class ComputeTargetException(AzureMLException):
    """Raised by compute targets (never for a missing one here: every name is this machine)."""


class WebserviceException(AzureMLException):
    """Model registry errors (a model that is not registered) and deployment (out of scope here)."""


class ModelNotFoundException(WebserviceException):
    """No registered model by that name and version."""


class TrainingException(AzureMLException):
    """Errors of estimators and HyperDrive configuration."""
