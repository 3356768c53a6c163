"""TernGrad: unbiased ternary gradients with gradient clipping (Wen et al. 2017)."""

from __future__ import annotations

import math

import numpy as np

from asyncsgd.codecs.base import CODECS, SCOPE, Capabilities, check_number
from asyncsgd.codecs.chunks import moments
from asyncsgd.codecs.levels import LevelQuantizer
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.settings import MAX_RATE, setting

CLIP = setting("clip", 2.5, "terngrad: clip to ±clip·σ before ternarising (0: off, unbiased)", 0, MAX_RATE)


@CODECS.register("terngrad", "TernGrad: stochastic ternary {−s, 0, s} per group, with clipping")
class TernGrad(LevelQuantizer):
    """TernGrad (Wen, Xu, Yan, Wu, Wang, Chen & Li, NeurIPS 2017)::

        x̄ = clip(x, −c·σ_g, c·σ_g)                        (σ_g: standard deviation of group g)
        s_g = max_i |x̄_i|,   t_i = s_g · sign(x̄_i) · b_i,   b_i ~ Bernoulli(|x̄_i| / s_g)

    ``E[t] = x̄``: unbiased for the clipped gradient, and for ``x`` itself when ``clip = 0`` turns
    clipping off (the paper's c = 2.5 trades that small bias for much lower variance). The paper
    ternarises each layer with its own scaler: ``scope = "layer"``. Wire format: 2 bits per
    coordinate and one float32 per group.
    """

    name = "terngrad"
    settings = (CLIP, SCOPE)
    reference = "Wen, Xu, Yan, Wu, Wang, Chen & Li, TernGrad, NeurIPS 2017"

    def __init__(self, layout: FlatLayout, clip: float = 2.5, scope: str = "global") -> None:
        self.clip = check_number("clip", clip, 0.0)
        super().__init__(layout, 1, scope, 0)

    @property
    def caps(self) -> Capabilities:
        return Capabilities(unbiased=self.clip == 0.0)

    def row_scales(self, rows: np.ndarray) -> tuple[np.ndarray, bool]:
        (row,) = rows  # one row per group: TernGrad has no buckets
        total, _, squares, high, low = moments(row)
        peak = max(high, -low)
        if self.clip == 0.0 or not math.isfinite(peak):
            return np.array([peak]), False
        mean = total / row.size
        bound = self.clip * math.sqrt(max(squares / row.size - mean * mean, 0.0))
        return np.array([min(peak, bound)]), bound < peak

    def clipped(self, x: np.ndarray) -> np.ndarray:
        """The clipped vector ``x̄`` whose unbiased estimate is sent (a new array)."""
        out = x.astype(np.float32, copy=True)
        for _, _, view in self.blocks.views(out):
            bound = self.row_scales(view)[0][0]
            np.clip(view, -bound, bound, out=view)
        return out
