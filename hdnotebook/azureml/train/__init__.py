"""``azureml.train``: HyperDrive (:mod:`.hyperdrive`) and the estimators."""
