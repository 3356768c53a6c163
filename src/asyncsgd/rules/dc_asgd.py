"""Delay-compensated ASGD (Zheng et al. 2017): a first-order Taylor correction of stale gradients."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from asyncsgd.rules.base import GRADIENT, REMEDIES, ApplyContext, Remedy
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import MAX_RATE, setting

EPSILON = 1e-7  # the paper's ε in λ_t = λ0 / √(MeanSquare + ε)
DC_LAMBDA = setting(
    "dc_lambda", 0.04, "dc_asgd: λ of the delay compensation; dc_asgd_adaptive: λ0", 0, MAX_RATE
)
DC_MOMENTUM = setting(
    "dc_momentum", 0.95, "dc_asgd_adaptive: decay m of the running mean square of g", 0, 1, False, True
)


def check_lambda(dc_lambda: float) -> float:
    if not (isinstance(dc_lambda, int | float) and math.isfinite(dc_lambda) and dc_lambda >= 0):
        raise ValueError(f"dc_lambda must be a finite number >= 0, got {dc_lambda!r}")
    return float(dc_lambda)


@dataclass
class DCState:
    backup: torch.Tensor
    """``w_bak(m)``: row m holds the parameters learner m last pulled (p × d float32)."""
    mean_square: torch.Tensor | None = None
    """Adaptive variant: the running mean of ``g⊙g`` (d float32)."""


@REMEDIES.register("dc_asgd", "DC-ASGD-c: g + λ·g⊙g⊙(w − w_bak), constant λ (Zheng et al. 2017)")
class DCASGD(Remedy):
    """DC-ASGD with a constant λ (DC-ASGD-c; Zheng, Meng, Wang, Chen, Yu, Ma & Liu, ICML 2017)::

        on a pull by learner m:   w_bak(m) ← w_t
        on its push of g:         g̃ = g + λ · g ⊙ g ⊙ (w_t − w_bak(m))

    ``λ·g⊙g`` is a cheap diagonal approximation of the Hessian, so ``g̃`` approximates the
    gradient at the current parameters ``w_t`` instead of the stale ``w_bak(m)``; λ = 0 is plain
    ASGD. The server keeps one backup vector per learner: ``4·p·d`` bytes (``server_memory_bytes``
    in the summary). A sparse push is corrected on its own coordinates only. Defined for pushes of
    one gradient at the pulled point (Downpour), and a synchronous round (all learners pulled the
    current point) is left unchanged.
    """

    name = "dc_asgd"
    keeps_support = True
    settings = (DC_LAMBDA,)
    pushes = frozenset({GRADIENT})
    reference = "Zheng et al., Asynchronous SGD with delay compensation, ICML 2017"

    def __init__(self, dc_lambda: float = 0.04) -> None:
        self.dc_lambda = check_lambda(dc_lambda)

    def init(self, params: torch.Tensor, num_learners: int) -> DCState:
        backup = params.detach().unsqueeze(0).repeat(num_learners, 1)
        return DCState(backup)

    def on_pull(self, state: DCState, learner: int, params: torch.Tensor) -> None:
        state.backup[learner].copy_(params)

    def memory_bytes(self, state: DCState) -> int:
        ms = 0 if state.mean_square is None else state.mean_square.numel() * 4
        return state.backup.numel() * state.backup.element_size() + ms

    def strength(self, update: Update, state: DCState) -> float | torch.Tensor:
        """λ_t: a constant here; per coordinate (on the update's coordinates) when adaptive."""
        return self.dc_lambda

    def transform(self, update: Update, state: DCState, params: torch.Tensor, ctx: ApplyContext) -> Update:
        lam = self.strength(update, state)
        if ctx.learner < 0:
            return update
        v, s = update.values, update.scale
        # g = s·v, so g + λ·g⊙g⊙Δ = s·(v + λ·s·v⊙v⊙Δ): the lazy scale s stays outside
        if update.indices is None:
            corr = params - state.backup[ctx.learner]
        else:
            corr = params.index_select(0, update.indices) - state.backup[ctx.learner].index_select(
                0, update.indices
            )
        corr.mul_(v).mul_(v).mul_(lam).mul_(s).add_(v)
        return Update(corr, update.size, indices=update.indices, scale=s)


@REMEDIES.register("dc_asgd_adaptive", "DC-ASGD-a: λ_t = λ0/√(MeanSquare + ε) per coordinate")
class DCASGDAdaptive(DCASGD):
    """DC-ASGD with an adaptive λ (DC-ASGD-a; Zheng et al., ICML 2017)::

        MeanSquare ← m·MeanSquare + (1 − m)·g⊙g
        λ_t = λ0 / √(MeanSquare + ε),  ε = 10⁻⁷                    (per coordinate)
        g̃ = g + λ_t ⊙ g ⊙ g ⊙ (w_t − w_bak(m))

    with λ0 = ``dc_lambda`` (the paper uses 2) and m = ``dc_momentum`` (0.95). The mean square
    is updated with every accepted push (a synchronous round's mean included) and costs ``4·d``
    bytes on top of the ``4·p·d`` of the backups.
    """

    name = "dc_asgd_adaptive"
    settings = (DC_LAMBDA, DC_MOMENTUM)

    def __init__(self, dc_lambda: float = 2.0, dc_momentum: float = 0.95) -> None:
        super().__init__(dc_lambda)
        if not (isinstance(dc_momentum, int | float) and 0.0 <= dc_momentum < 1.0):
            raise ValueError(f"dc_momentum must be in [0, 1), got {dc_momentum!r}")
        self.dc_momentum = float(dc_momentum)

    def init(self, params: torch.Tensor, num_learners: int) -> DCState:
        state = super().init(params, num_learners)
        state.mean_square = torch.zeros_like(params)
        return state

    def strength(self, update: Update, state: DCState) -> torch.Tensor:
        ms, m, v = state.mean_square, self.dc_momentum, update.values
        assert ms is not None
        ms.mul_(m)
        if update.indices is None:
            ms.addcmul_(v, v, value=(1.0 - m) * update.scale**2)
            current = ms
        else:
            ms.index_add_(0, update.indices, v * v, alpha=(1.0 - m) * update.scale**2)
            current = ms.index_select(0, update.indices)
        return torch.rsqrt(current + EPSILON).mul_(self.dc_lambda)
