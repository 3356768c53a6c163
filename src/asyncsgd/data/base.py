"""The in-memory dataset every engine trains on: train/test tensors plus provenance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from asyncsgd.registry import Registry


@dataclass(frozen=True)
class Dataset:
    """Features are float32 tensors of shape ``(N, *input_shape)``; labels are int64 ``(N,)``.

    Token datasets (``vocab_size > 0``) hold int64 word ids instead, padded to one length:
    ``(N, L)`` with ids in ``[0, vocab_size)`` and :data:`PAD_ID` filling the tail of short
    documents. Batching is the same row gather either way.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str = ""
    vocab_size: int = 0
    """Number of token ids (padding included) when inputs are token ids; 0 for float features."""

    def __post_init__(self) -> None:
        inputs = torch.int64 if self.is_tokens else torch.float32
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"{self.name}: {split} has {x.shape[0]} inputs but {y.shape[0]} labels")
            if x.dtype != inputs or y.dtype != torch.int64:
                kind = "int64 token ids" if self.is_tokens else "float32 inputs"
                raise ValueError(f"{self.name}: {split} must be {kind} and int64 labels")
            if self.is_tokens and x.numel() and (x.ndim != 2 or x.min() < 0 or x.max() >= self.vocab_size):
                raise ValueError(f"{self.name}: {split} token ids must be (N, L) in [0, {self.vocab_size})")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"{self.name}: train and test inputs differ in shape")
        if self.x_train.shape[0] == 0 or self.x_test.shape[0] == 0:
            raise ValueError(f"{self.name}: empty train or test split")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def is_tokens(self) -> bool:
        return self.vocab_size > 0

    @classmethod
    def from_arrays(
        cls,
        name: str,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        num_classes: int | None = None,
        source: str = "",
    ) -> Dataset:
        return cls._build(name, (x_train, y_train, x_test, y_test), np.float32, num_classes, source, 0)

    @classmethod
    def from_tokens(
        cls,
        name: str,
        ids_train: np.ndarray,
        y_train: np.ndarray,
        ids_test: np.ndarray,
        y_test: np.ndarray,
        vocab_size: int,
        num_classes: int | None = None,
        source: str = "",
    ) -> Dataset:
        """A token dataset from padded ``(N, L)`` id matrices (:data:`PAD_ID` pads)."""
        arrays = (ids_train, y_train, ids_test, y_test)
        return cls._build(name, arrays, np.int64, num_classes, source, vocab_size)

    @classmethod
    def _build(
        cls,
        name: str,
        arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        x_dtype: type,
        num_classes: int | None,
        source: str,
        vocab_size: int,
    ) -> Dataset:
        x_train, y_train, x_test, y_test = arrays
        yt, ye = np.asarray(y_train).astype(np.int64), np.asarray(y_test).astype(np.int64)
        classes = num_classes or int(max(yt.max(), ye.max()) + 1)
        return cls(
            name,
            torch.from_numpy(np.ascontiguousarray(x_train, dtype=x_dtype)),
            torch.from_numpy(yt),
            torch.from_numpy(np.ascontiguousarray(x_test, dtype=x_dtype)),
            torch.from_numpy(ye),
            classes,
            source,
            vocab_size,
        )


PAD_ID = 0
"""The token id that pads documents to a common length; models ignore it."""

Loader = Callable[..., Dataset]
DATASETS: Registry[Loader] = Registry("dataset")


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with the same class proportions, reproducible from ``seed``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(test_fraction * idx.size)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both splits by the train split's global mean and standard deviation."""
    mean, std = float(train.mean()), float(train.std()) or 1.0
    return (train - mean) / std, (test - mean) / std
