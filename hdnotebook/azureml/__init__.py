"""The Azure ML SDK v1 names HyperDrive notebooks import, running on this machine (SPEC §10).

Replace every ``azureml.`` with ``hdnotebook.azureml.`` in a notebook and its training scripts::

    from hdnotebook.azureml.core import Workspace, Experiment, ScriptRunConfig
    from hdnotebook.azureml.train.hyperdrive import RandomParameterSampling, HyperDriveConfig, choice
    from hdnotebook.azureml.widgets import RunDetails

Spaces, samplers and policies are hdnotebook's own; the workspace, runs, models and
configurations follow the SDK's names, shapes and defaults; compute targets, environments and
datastores are local stand-ins that say once what they do here.
"""
