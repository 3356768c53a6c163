"""Staleness-aware learning rates: scale each push by a decreasing function of its staleness τ."""

from __future__ import annotations

from typing import Any

import torch

from asyncsgd.core.messages import Update
from asyncsgd.rules.base import REMEDIES, ApplyContext, Remedy


@REMEDIES.register("staleness_lr", "γ/τ per push, γ when τ = 0 (Zhang et al. 2016)")
class StalenessLR(Remedy):
    """``γ_τ = γ / max(τ, 1)`` (Zhang, Gupta, Lian & Liu, IJCAI 2016).

    The paper divides the rate by the staleness; a fresh push (τ = 0) would divide by zero, so it
    gets the full rate γ, as in the authors' implementation. Consequently the rule equals plain
    Downpour whenever every τ ≤ 1.
    """

    name = "staleness_lr"

    def transform(self, update: Update, state: Any, params: torch.Tensor, ctx: ApplyContext) -> Update:
        if ctx.tau > 1:
            update.scale /= ctx.tau
        return update
