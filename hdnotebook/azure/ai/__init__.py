"""``hdnotebook.azure.ai``: holds :mod:`hdnotebook.azure.ai.ml`, the SDK v2 sweep-job mirror."""
