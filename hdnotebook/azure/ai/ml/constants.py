"""``azure.ai.ml.constants`` names that v2 samples use: asset types and input/output modes.

    >>> AssetTypes.URI_FILE, InputOutputModes.RO_MOUNT
    ('uri_file', 'ro_mount')
"""

from __future__ import annotations

__all__ = ["AssetTypes", "InputOutputModes", "JobType"]


class AssetTypes:
    """Types of inputs, outputs and models."""

    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    MLFLOW_MODEL = "mlflow_model"
    CUSTOM_MODEL = "custom_model"
    TRITON_MODEL = "triton_model"


class InputOutputModes:
    """How data reaches a job; kept here, local data is always used in place."""

    MOUNT = "mount"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    RO_MOUNT = "ro_mount"
    RW_MOUNT = "rw_mount"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"
    DIRECT = "direct"


class JobType:
    """Job types this mirror runs."""

    COMMAND = "command"
    SWEEP = "sweep"
