"""Adagrad on the parameter server, as Downpour uses it."""

from __future__ import annotations

import math

import torch

from asyncsgd.rules.base import OPTIMIZERS, Optimizer
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import setting

ADAGRAD_EPS = setting("adagrad_eps", 1e-10, "rule=adagrad: ε in x ← x − γ·g/(√G + ε)", 0, 1, True)


@OPTIMIZERS.register("adagrad", "per-coordinate rate γ/√(Σ g²) on the server (Downpour's Adagrad)")
class Adagrad(Optimizer):
    """Server-side Adagrad (Duchi, Hazan & Singer 2011), which Downpour uses for robustness
    (Dean et al. 2012: η_i = γ/√(Σ_j Δw_{i,j}²), per parameter, over every push received)::

        G ← G + g ⊙ g
        x ← x − γ · g / (√G + ε)

    in the form of ``torch.optim.Adagrad`` (no rate decay, zero initial accumulator), and equal to
    it bit for bit. Sparse pushes touch only their coordinates. γ is usually an order of
    magnitude larger than the best fixed SGD rate. Costs ``4·d`` bytes of server memory.
    """

    name = "adagrad"
    in_support = True
    settings = (ADAGRAD_EPS,)
    reference = "Duchi, Hazan & Singer, JMLR 2011; Dean et al., NeurIPS 2012 (on the server)"

    def __init__(self, adagrad_eps: float = 1e-10) -> None:
        if not (isinstance(adagrad_eps, int | float) and math.isfinite(adagrad_eps) and adagrad_eps > 0):
            raise ValueError(f"adagrad_eps must be a finite number > 0, got {adagrad_eps!r}")
        self.eps = float(adagrad_eps)

    def init(self, params: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(params)

    def step(self, params: torch.Tensor, update: Update, state: torch.Tensor, lr: float) -> None:
        v, s = update.values, update.scale
        if update.indices is None:
            state.addcmul_(v, v, value=s * s)
            std = state.sqrt().add_(self.eps)
            params.addcdiv_(v, std, value=-lr * s)
            return
        idx = update.indices
        state.index_add_(0, idx, v * v, alpha=s * s)
        std = state.index_select(0, idx).sqrt_().add_(self.eps)
        params.index_add_(0, idx, v / std, alpha=-lr * s)

    def memory_bytes(self, state: torch.Tensor) -> int:
        return state.numel() * state.element_size()
