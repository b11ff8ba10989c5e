"""Training functions on data that ships with scikit-learn, for the demo, benchmarks and notebooks.

Needs the ``examples`` extra (scikit-learn). Each function is a trial: it takes hyperparameters
as keyword arguments and logs the validation accuracy once per epoch with ``Run.get_context()``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from .run import Run

__all__ = ["load_split", "train_mlp", "train_sgd"]


@lru_cache(maxsize=4)
def load_split(dataset: str = "digits", seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_val, y_train, y_val)`` of a scikit-learn toy dataset, scaled to [0, 1]."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
    if dataset not in loaders:
        raise ValueError(f"dataset must be one of {sorted(loaders)}, got {dataset!r}")
    X, y = loaders[dataset](return_X_y=True)
    X = (X - X.min(axis=0)) / np.maximum(X.max(axis=0) - X.min(axis=0), 1e-12)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y))  # type: ignore[return-value]


def train_mlp(
    learning_rate: float,
    alpha: float = 1e-4,
    hidden: int = 64,
    batch_size: int = 32,
    epochs: int = 20,
    dataset: str = "digits",
    seed: int = 0,
) -> float:
    """A one-hidden-layer MLP trained epoch by epoch; logs ``accuracy`` and ``loss`` per epoch."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, X_val, y_train, y_val = load_split(dataset)
    classes = np.unique(y_train)
    model = MLPClassifier(
        hidden_layer_sizes=(int(hidden),), learning_rate_init=float(learning_rate), alpha=float(alpha),
        batch_size=int(batch_size), random_state=seed,
    )
    run = Run.get_context()
    accuracy = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(int(epochs)):
            model.partial_fit(X_train, y_train, classes=classes)
            accuracy = float(model.score(X_val, y_val))
            run.log("loss", float(model.loss_))
            run.log("accuracy", accuracy)
    return accuracy


def train_sgd(
    learning_rate: float,
    alpha: float = 1e-4,
    batch_size: int = 64,
    epochs: int = 20,
    dataset: str = "digits",
    seed: int = 0,
    **_: Any,
) -> float:
    """A linear model (``SGDClassifier``) trained on mini-batches; logs ``accuracy`` per epoch."""
    from sklearn.linear_model import SGDClassifier

    X_train, X_val, y_train, y_val = load_split(dataset)
    classes = np.unique(y_train)
    model = SGDClassifier(learning_rate="constant", eta0=float(learning_rate), alpha=float(alpha), random_state=seed)
    rng = np.random.default_rng(seed)
    run = Run.get_context()
    accuracy = 0.0
    for _ in range(int(epochs)):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), int(batch_size)):
            idx = order[start : start + int(batch_size)]
            model.partial_fit(X_train[idx], y_train[idx], classes=classes)
        accuracy = float(model.score(X_val, y_val))
        run.log("accuracy", accuracy)
    return accuracy
