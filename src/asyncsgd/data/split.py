"""A validation split held out of the training set, so a rate can be chosen without the test set.

The split is stratified and drawn from the data seed alone (never the run seed), so every method,
rate and run seed of a comparison holds out the same samples; the held-out rows leave the training
set, so batch streams, which index the training set, cannot draw them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from asyncsgd.data.base import Dataset, stratified_split

VALIDATION_STREAM = 0x7A11D
"""Stream constant of the split's generator (distinct from the data order's and the test split's)."""


def split_seed(data_seed: int) -> int:
    """The seed of the validation split: derived from ``data_seed`` and :data:`VALIDATION_STREAM`."""
    return int(np.random.SeedSequence([data_seed, VALIDATION_STREAM]).generate_state(1, np.uint64)[0])


def validation_indices(labels: np.ndarray, fraction: float, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) indices into the training set, sorted, disjoint, together all of it."""
    kept, held = stratified_split(labels, fraction, split_seed(data_seed))
    if held.size == 0 or kept.size == 0:
        raise ValueError(
            f"{fraction} of {labels.size} training samples leaves an empty "
            f"{'validation' if held.size == 0 else 'training'} set"
        )
    return kept, held


def hold_out(dataset: Dataset, fraction: float, data_seed: int) -> Dataset:
    """``dataset`` with ``fraction`` of its training set moved to ``x_val``/``y_val``; the dataset
    itself when ``fraction`` is 0 (nothing changes: the same training rows in the same order)."""
    if fraction <= 0:
        return dataset
    if dataset.has_validation:
        raise ValueError(f"{dataset.name} already holds a validation set")
    kept, held = validation_indices(dataset.y_train.numpy(), fraction, data_seed)
    keep, hold = torch.from_numpy(kept), torch.from_numpy(held)
    return dataclasses.replace(
        dataset,
        x_train=dataset.x_train.index_select(0, keep),
        y_train=dataset.y_train.index_select(0, keep),
        x_val=dataset.x_train.index_select(0, hold),
        y_val=dataset.y_train.index_select(0, hold),
    )
