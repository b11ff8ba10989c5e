"""``azureml.core`` for hdnotebook: workspace, experiment, runs, models and local stand-ins.

Port a notebook by replacing every ``azureml.`` with ``hdnotebook.azureml.``; see the README's
porting guide for what each cloud object does on this machine.
"""

from __future__ import annotations

from ... import __version__ as VERSION
from .compute import ComputeTarget
from .conda_dependencies import CondaDependencies
from .dataset import Dataset
from .datastore import Datastore
from .environment import Environment
from .experiment import Experiment
from .model import Model
from .run import Run, get_run
from .runconfig import RunConfiguration
from .script_run import ScriptRun
from .script_run_config import ScriptRunConfig
from .workspace import Workspace

__version__ = VERSION

__all__ = ["ComputeTarget", "CondaDependencies", "Dataset", "Datastore", "Environment", "Experiment", "Model",
           "Run", "RunConfiguration", "ScriptRun", "ScriptRunConfig", "VERSION", "Workspace", "get_run"]
