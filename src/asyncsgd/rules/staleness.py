"""Staleness-aware learning rates: scale each push by a decreasing function of its staleness τ."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from asyncsgd.rules.base import REMEDIES, ApplyContext, Remedy
from asyncsgd.vocabulary.messages import Update


@REMEDIES.register("staleness_lr", "γ/τ per push, γ when τ = 0 (Zhang et al. 2016)")
class StalenessLR(Remedy):
    """``γ_τ = γ / max(τ, 1)`` (Zhang, Gupta, Lian & Liu, IJCAI 2016).

    The paper divides the rate by the staleness; a fresh push (τ = 0) would divide by zero, so it
    gets the full rate γ, as in the authors' implementation. Consequently the rule equals plain
    Downpour whenever every τ ≤ 1.
    """

    name = "staleness_lr"
    keeps_support = True
    reference = "Zhang, Gupta, Lian & Liu, Staleness-aware async-SGD, IJCAI 2016"

    def transform(self, update: Update, state: Any, params: torch.Tensor, ctx: ApplyContext) -> Update:
        return replace(update, scale=update.scale / ctx.tau) if ctx.tau > 1 else update


@REMEDIES.register("staleness_lr_plus1", "γ/(τ + 1) per push (DynSGD, Jiang et al. 2017)")
class StalenessLRPlusOne(Remedy):
    """``γ_τ = γ / (τ + 1)`` (DynSGD: Jiang, Cui, Zhang & Yu, SIGMOD 2017).

    Unlike :class:`StalenessLR` every stale push is damped, including τ = 1 (to γ/2); a fresh
    push keeps γ, so the rule equals Downpour exactly when every τ = 0 (one learner, or SSP with
    s = 0 at equal speeds).
    """

    name = "staleness_lr_plus1"
    keeps_support = True
    reference = "Jiang, Cui, Zhang & Yu, Heterogeneity-aware distributed parameter servers, SIGMOD 2017"

    def transform(self, update: Update, state: Any, params: torch.Tensor, ctx: ApplyContext) -> Update:
        return replace(update, scale=update.scale / (ctx.tau + 1)) if ctx.tau > 0 else update
