"""Loss and accuracy of the server's parameters on the test set, (a fixed subset of) the train
set and the validation split when there is one, and optionally the squared norm of the full
training gradient there.

``grad_norm_sq`` is ``‖∇f(x)‖²`` for ``f`` the mean training loss over the evaluator's train
subset (all of the training set up to ``TRAIN_EVAL_MAX`` samples): the quantity whose ergodic
average ``(1/T) Σ_t ‖∇f(x_t)‖²`` the convergence theorems of asynchronous and sparsified SGD
bound (Lian et al. 2015, Theorem 1). The gradient comes from :meth:`FlatModel.gradient`, the
learners' own code path, chunk by chunk.
"""

from __future__ import annotations

import torch

from asyncsgd.data.base import Dataset
from asyncsgd.vocabulary.flat import FlatModel

TRAIN_EVAL_MAX = 10_000
GRAD_CHUNK = 512
"""Samples per backward pass of the full gradient (bounds the activations kept for backward)."""


def full_gradient(
    flat: FlatModel, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, chunk: int = GRAD_CHUNK
) -> torch.Tensor:
    """``∇f(x)`` of the mean loss over ``(inputs, targets)``, as float64 on the host.

    Each chunk ``c`` of ``n_c`` samples gives its mean gradient ``g_c``; the mean over all ``n``
    samples is ``Σ_c (n_c/n)·g_c``. The passes run in training mode, as the learners' do (for
    BatchNorm that means chunk statistics); the module's buffers (BatchNorm running statistics) are
    put back afterwards, so later evaluations are unaffected.
    """
    n = int(targets.shape[0])
    if n == 0:
        raise ValueError("the gradient of a loss over no samples is undefined")
    total = torch.zeros(flat.size, dtype=torch.float64)
    saved = [b.detach().clone() for b in flat.module.buffers()]
    try:
        for start in range(0, n, chunk):
            yb = targets[start : start + chunk]
            flat.gradient(x, inputs[start : start + chunk], yb)
            total.add_(flat.grads, alpha=int(yb.shape[0]) / n)
    finally:
        with torch.no_grad():
            for buffer, value in zip(flat.module.buffers(), saved, strict=True):
                buffer.copy_(value)
    return total


class Evaluator:
    def __init__(self, flat: FlatModel, dataset: Dataset, grad_norm: bool = False) -> None:
        self.flat = flat
        self.dataset = dataset
        self.grad_norm = grad_norm
        n = dataset.n_train
        step = max(1, n // TRAIN_EVAL_MAX)
        self.train_x = dataset.x_train[::step]
        self.train_y = dataset.y_train[::step]

    def __call__(self, params: torch.Tensor) -> dict[str, float]:
        ds = self.dataset
        test_loss, test_acc = self.flat.evaluate(params, ds.x_test, ds.y_test)
        train_loss, train_acc = self.flat.evaluate(params, self.train_x, self.train_y)
        scores = {
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
        }
        if ds.x_val is not None and ds.y_val is not None:  # absent without a validation split
            scores["val_loss"], scores["val_accuracy"] = self.flat.evaluate(params, ds.x_val, ds.y_val)
        if self.grad_norm:  # absent otherwise: metrics.csv writes nan, the database nothing
            g = full_gradient(self.flat, params, self.train_x, self.train_y)
            scores["grad_norm_sq"] = float(torch.dot(g, g))
        return scores
