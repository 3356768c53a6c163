"""Loss and accuracy of the server's parameters on the test set and (a fixed subset of) the train set."""

from __future__ import annotations

import torch

from asyncsgd.core.flat import FlatModel
from asyncsgd.data.base import Dataset

TRAIN_EVAL_MAX = 10_000


class Evaluator:
    def __init__(self, flat: FlatModel, dataset: Dataset) -> None:
        self.flat = flat
        self.dataset = dataset
        n = dataset.n_train
        step = max(1, n // TRAIN_EVAL_MAX)
        self.train_x = dataset.x_train[::step]
        self.train_y = dataset.y_train[::step]

    def __call__(self, params: torch.Tensor) -> dict[str, float]:
        ds = self.dataset
        test_loss, test_acc = self.flat.evaluate(params, ds.x_test, ds.y_test)
        train_loss, train_acc = self.flat.evaluate(params, self.train_x, self.train_y)
        return {
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
        }
