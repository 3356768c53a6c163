"""The training objective at a point, through a :class:`FlatModel`: loss, gradient, Hessian-vector
products and per-sample gradients, over a fixed set of samples.

``f(x) = (1/n) Σ_i ℓ(x; ξ_i)`` is the *mean* loss, the ``f`` of Lian et al. (2015). Everything is
computed in training mode, as a learner computes its gradients, in chunks of at most ``chunk``
samples so memory stays bounded whatever the set's size. The flat model is scratch space: its
parameter and gradient buffers are overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.func import functional_call, grad, vmap

from asyncsgd.vocabulary.flat import FlatModel

CHUNK = 1024
# per-sample gradients are materialised as (rows × d) float32 blocks of at most this many entries
PER_SAMPLE_FLOATS = 1 << 23


def _train_mode(flat: FlatModel, x: torch.Tensor) -> list[torch.nn.Parameter]:
    flat.load(x)
    flat._set_mode(True)  # through the FlatModel, which caches the module's mode
    return [p for _, p in flat.module.named_parameters() if p.requires_grad]


def _chunks(n: int, chunk: int) -> list[slice]:
    return [slice(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def loss_and_gradient(
    flat: FlatModel, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, chunk: int = CHUNK
) -> tuple[float, torch.Tensor]:
    """Mean loss and its gradient over all of ``(inputs, targets)`` (a new tensor)."""
    n = int(targets.shape[0])
    total = torch.zeros_like(flat.params)
    loss = 0.0
    for part in _chunks(n, chunk):
        weight = (part.stop - part.start) / n
        loss += weight * flat.gradient(x, inputs[part], targets[part])
        total.add_(flat.grads, alpha=weight)
    return loss, total


def hessian_vector_product(
    flat: FlatModel,
    x: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    v: torch.Tensor,
    chunk: int = CHUNK,
) -> torch.Tensor:
    """``∇²f(x)·v`` by double backward through the module (exact, no finite differences)."""
    params = _train_mode(flat, x)
    directions = [v[s.offset : s.stop].view(s.shape) for s in flat.layout]
    out = torch.zeros_like(flat.params)
    n = int(targets.shape[0])
    for part in _chunks(n, chunk):
        loss = flat.loss_fn(flat.module(inputs[part]), targets[part])
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        dot = sum(
            ((g * u).sum() for g, u in zip(grads, directions, strict=True) if g is not None),
            torch.zeros(()),
        )
        if not dot.requires_grad:  # the gradient does not depend on x here: H = 0
            continue
        hv = torch.autograd.grad(dot, params, allow_unused=True)
        pieces = [torch.zeros_like(p) if h is None else h for h, p in zip(hv, params, strict=True)]
        flat_hv = torch.cat([h.reshape(-1) for h in pieces])
        out.add_(flat_hv, alpha=(part.stop - part.start) / n)
    return out


def per_sample_gradients(
    flat: FlatModel, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> Iterator[torch.Tensor]:
    """One gradient row per sample, by ``vmap`` over a functional call, yielded as float32 blocks
    of rows (``(rows, d)``, at most :data:`PER_SAMPLE_FLOATS` entries each).

    Raises whatever ``torch.func`` raises for modules it cannot vectorise (e.g. batch-norm in
    training mode, or dropout); callers fall back to mini-batch gradients.
    """
    _train_mode(flat, x)
    names = [s.name for s in flat.layout]
    params = flat.layout.views(flat.params)
    loss_fn, module = flat.loss_fn, flat.module

    def one(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(module, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    m = int(targets.shape[0])
    rows = max(1, PER_SAMPLE_FLOATS // max(flat.size, 1))
    for part in _chunks(m, rows):
        g = per_sample(params, inputs[part], targets[part])
        yield torch.cat([g[k].reshape(part.stop - part.start, -1) for k in names], dim=1)
