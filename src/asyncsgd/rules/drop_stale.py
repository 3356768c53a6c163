"""Drop-stale: discard a push whose staleness exceeds a bound."""

from __future__ import annotations

import math
from typing import Any

import torch

from asyncsgd.rules.base import REMEDIES, ApplyContext, Remedy
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import setting

STALE_BOUND = setting(
    "stale_bound", math.inf, "drop_stale: discard a push whose staleness τ exceeds this", 0, math.inf
)


@REMEDIES.register("drop_stale", "discard a push whose τ exceeds stale_bound")
class DropStale(Remedy):
    """Discard stale pushes (the rule of TensorFlow's ``DropStaleGradientOptimizer``)::

        apply the push if τ ≤ stale_bound, else drop it (the version does not advance)

    A dropped push is counted (``dropped`` in the summary, ``applied = 0`` in the trace) and its
    samples are spent. With error feedback the learner has already moved what it sent out of its
    residual, so a dropped push loses that mass. ``stale_bound = inf`` drops nothing: plain Downpour.
    """

    name = "drop_stale"
    keeps_support = True
    settings = (STALE_BOUND,)
    reference = "bounded-delay ASGD; TensorFlow tf.contrib.opt.DropStaleGradientOptimizer"

    def __init__(self, stale_bound: float = math.inf) -> None:
        if isinstance(stale_bound, bool) or not isinstance(stale_bound, int | float) or not stale_bound >= 0:
            raise ValueError(f"stale_bound must be >= 0 (inf: keep every push), got {stale_bound!r}")
        self.stale_bound = float(stale_bound)

    def transform(self, update: Update, state: Any, params: torch.Tensor, ctx: ApplyContext) -> Update | None:
        return None if ctx.tau > self.stale_bound else update
