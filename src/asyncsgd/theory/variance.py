"""Gradient noise at a point, from many mini-batches: per mini-batch (σ_M²) and per sample (σ²).

Both are unbiased and come with a standard error from independent terms:

* ``σ_M² = E‖g_B − ∇f‖²``, the variance of one mini-batch *mean* gradient (what a learner
  pushes), from pairs of independent mini-batches: ``E ½‖g_B − g_B'‖² = σ_M²`` exactly. Each
  gradient is computed by :meth:`FlatModel.gradient`, the learners' own code path.
* ``σ² = E_ξ‖G(x; ξ) − ∇f(x)‖²``, the per-sample variance of Lian et al.'s Assumption 1, from the
  per-sample gradients of each mini-batch: a batch of ``M`` distinct samples drawn from ``n`` has
  ``E[s²] = σ²·n/(n − 1)`` for its sample variance ``s² = Σ‖G_i − Ḡ‖²/(M − 1)``.

With independent samples ``σ_M² = σ²/M``; drawn without replacement it is ``σ²/M·(n−M)/(n−1)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from asyncsgd.theory.objective import per_sample_gradients
from asyncsgd.vocabulary.flat import FlatModel


@dataclass(frozen=True)
class Measured:
    """A mean of independent unbiased terms: the estimate, its standard error, what it used."""

    value: float
    stderr: float
    terms: int
    samples: int


def mean_with_stderr(terms: Sequence[float], samples: int) -> Measured:
    arr = np.asarray(terms, dtype=np.float64)
    stderr = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else math.inf
    return Measured(float(arr.mean()), stderr, int(arr.size), samples)


def minibatch_variance(
    flat: FlatModel,
    x: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    batches: Sequence[np.ndarray],
) -> Measured:
    """``σ_M²`` from consecutive pairs of ``batches`` (index arrays of equal size ``M``)."""
    terms = []
    for a, b in zip(batches[0::2], batches[1::2], strict=False):
        flat.gradient(x, inputs[a], targets[a])
        first = flat.grads.clone()
        flat.gradient(x, inputs[b], targets[b])
        terms.append(0.5 * float(first.sub_(flat.grads).double().square().sum()))
    used = 2 * len(terms)
    return mean_with_stderr(terms, samples=sum(len(b) for b in batches[:used]))


def _within_batch_m2(blocks: Iterable[torch.Tensor]) -> tuple[int, float]:
    """``(m, Σ‖G_i − Ḡ‖²)`` over row blocks, merged in float64 (Chan et al.'s pairwise update)."""
    count, m2 = 0, 0.0
    mean: torch.Tensor | None = None
    for block in blocks:
        rows = block.double()
        c = int(rows.shape[0])
        block_mean = rows.mean(dim=0)
        block_m2 = float(rows.sub_(block_mean).square().sum())
        if mean is None:
            count, mean, m2 = c, block_mean, block_m2
            continue
        delta = block_mean - mean
        total = count + c
        m2 += block_m2 + float(delta.square().sum()) * count * c / total
        mean.add_(delta, alpha=c / total)
        count = total
    return count, m2


def per_sample_variance(
    flat: FlatModel,
    x: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    batches: Sequence[np.ndarray],
    n: int,
) -> Measured:
    """``σ²`` from the within-batch spread of per-sample gradients, one term per batch.

    Needs batches of at least two samples and a module ``torch.func.vmap`` can vectorise;
    otherwise it raises (``ValueError`` or what ``torch.func`` raises).
    """
    if len(batches[0]) < 2:
        raise ValueError("per-sample variance needs mini-batches of at least 2 samples")
    terms = []
    for idx in batches:
        m, m2 = _within_batch_m2(per_sample_gradients(flat, x, inputs[idx], targets[idx]))
        terms.append(m2 / (m - 1) * (n - 1) / n)
    return mean_with_stderr(terms, samples=sum(len(b) for b in batches))
