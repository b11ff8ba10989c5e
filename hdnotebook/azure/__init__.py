"""Local stand-ins for the ``azure`` packages that Azure ML SDK v2 notebooks import (SPEC §10).

A notebook written for ``azure.ai.ml`` sweep jobs runs here after one mechanical change: every
``azure.`` import becomes ``hdnotebook.azure.``::

    from hdnotebook.azure.ai.ml import MLClient, command, Input
    from hdnotebook.azure.ai.ml.sweep import Choice, Uniform, BanditPolicy
    from hdnotebook.azure.identity import DefaultAzureCredential

See :mod:`hdnotebook.azure.ai.ml`.
"""
