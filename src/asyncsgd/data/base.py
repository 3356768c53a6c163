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
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    """Samples held out of the training set for validation (:func:`asyncsgd.data.split.hold_out`);
    None when nothing is held out."""

    def __post_init__(self) -> None:
        inputs = torch.int64 if self.is_tokens else torch.float32
        splits = [("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)]
        if (self.x_val is None) != (self.y_val is None):
            raise ValueError(f"{self.name}: validation needs both inputs and labels")
        if self.x_val is not None:
            splits.append(("validation", self.x_val, self.y_val))
            if self.x_val.shape[0] == 0 or self.x_val.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(f"{self.name}: validation must be non-empty and shaped as train")
        for split, x, y in splits:
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

    def __repr__(self) -> str:
        kind = f"token ids (vocabulary {self.vocab_size:,})" if self.is_tokens else "features"
        val = f", {self.x_val.shape[0]:,} validation" if self.x_val is not None else ""
        source = f", source={self.source!r}" if self.source else ""
        return (
            f"Dataset({self.name!r}: {self.n_train:,} train, {self.x_test.shape[0]:,} test{val}; "
            f"{kind} of shape {self.input_shape}, {self.num_classes} classes{source})"
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def has_validation(self) -> bool:
        return self.x_val is not None

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
        """Checked tensors from the four arrays; a ValueError names the array at fault."""
        tokens = vocab_size > 0
        xs = [as_features(key, a, tokens) for key, a in zip(ARRAY_NAMES[::2], arrays[::2], strict=True)]
        ys = [as_labels(key, a) for key, a in zip(ARRAY_NAMES[1::2], arrays[1::2], strict=True)]
        for (xk, yk), x, y in zip((ARRAY_NAMES[:2], ARRAY_NAMES[2:]), xs, ys, strict=True):
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"{xk} has {x.shape[0]} rows but {yk} has {y.shape[0]} labels")
        if xs[0].shape[1:] != xs[1].shape[1:]:
            raise ValueError(f"x_train rows have shape {xs[0].shape[1:]} but x_test rows {xs[1].shape[1:]}")
        largest = int(max(ys[0].max(), ys[1].max()))
        classes = largest + 1 if num_classes is None else int(num_classes)
        if not 1 <= classes <= MAX_CLASSES:
            raise ValueError(f"{classes} classes; at most {MAX_CLASSES:,} (labels are 0..classes-1)")
        for key, y in zip(ARRAY_NAMES[1::2], ys, strict=True):
            if int(y.max()) >= classes:
                raise ValueError(
                    f"{key}: label {int(y.max())} is out of range 0..{classes - 1} ({classes} classes)"
                )
        return cls(
            name,
            torch.from_numpy(np.ascontiguousarray(xs[0], dtype=x_dtype)),
            torch.from_numpy(ys[0]),
            torch.from_numpy(np.ascontiguousarray(xs[1], dtype=x_dtype)),
            torch.from_numpy(ys[1]),
            classes,
            source,
            vocab_size,
        )


ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
MAX_CLASSES = 2**20
"""Most classes a dataset may have (a label of 10^9 is a corrupt file, not a task)."""


def as_features(key: str, array: object, tokens: bool = False) -> np.ndarray:
    """``array`` as float32 features (or int64 token ids), one row per sample; a ValueError
    naming ``key`` for anything that would fail, or train to NaN, later."""
    a = np.asarray(array)
    if a.dtype.kind not in ("iu" if tokens else "biuf"):
        want = "integer token ids" if tokens else "numbers"
        raise ValueError(f"{key}: must hold {want}, got dtype {a.dtype}")
    if a.ndim < 2 or a.shape[0] == 0 or a[0].size == 0:
        raise ValueError(f"{key}: must be one non-empty row per sample (2-D or more), got shape {a.shape}")
    if tokens:
        return a.astype(np.int64, copy=False)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, and is refused below
        x = a.astype(np.float32, copy=False)
    if a.dtype.kind == "f" and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        value = a[tuple(bad)]
        why = "beyond float32" if np.isfinite(value) else str(value)
        raise ValueError(
            f"{key}: value {why} at index {tuple(int(i) for i in bad)} (features must be finite)"
        )
    return x


def as_labels(key: str, array: object) -> np.ndarray:
    """``array`` as int64 class labels, one per sample, each >= 0 (whole-valued floats are taken
    as they are; 0.5 is refused, not truncated)."""
    a = np.asarray(array)
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{key}: must be a non-empty 1-D array of class labels, got shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{key}: must hold integer class labels, got dtype {a.dtype}")
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        whole = np.isfinite(a) & (a == np.round(a))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise ValueError(f"{key}: label {a[i]} at index {i} is not a whole number (labels are class ids)")
    if a.min() < 0:
        i = int(np.argmin(a))
        raise ValueError(f"{key}: label {a[i]} at index {i} is negative (labels are 0..classes-1)")
    if a.max() >= MAX_CLASSES:
        i = int(np.argmax(a))
        raise ValueError(
            f"{key}: label {a[i]} at index {i} is out of range (at most {MAX_CLASSES:,} classes)"
        )
    return a.astype(np.int64)


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
