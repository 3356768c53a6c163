"""A synthetic softmax-regression task: fast, dependency-free, and learnable (for tests)."""

from __future__ import annotations

import numpy as np

from asyncsgd.data.base import DATASETS, Dataset


@DATASETS.register("synthetic", "4-class softmax regression in 32 dimensions (4,096 train / 1,024 test)")
def synthetic(
    seed: int = 0, n_train: int = 4096, n_test: int = 1024, dim: int = 32, classes: int = 4, **_: object
) -> Dataset:
    """Inputs ``x ~ N(0, I)``; labels drawn from ``softmax(W x)`` for a fixed random teacher ``W``."""
    rng = np.random.Generator(np.random.PCG64([seed, 0x5A]))
    w = rng.normal(0.0, 1.5 / np.sqrt(dim), size=(dim, classes)) * np.sqrt(dim) / 2
    x = rng.normal(size=(n_train + n_test, dim))
    logits = x @ w
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) > rng.random((x.shape[0], 1))).argmax(axis=1)
    return Dataset.from_arrays(
        "synthetic", x[:n_train], y[:n_train], x[n_train:], y[n_train:], classes, source="generated"
    )
