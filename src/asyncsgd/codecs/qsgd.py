"""QSGD: unbiased stochastic quantisation to s levels of the bucket norm (Alistarh et al. 2017)."""

from __future__ import annotations

import math

import numpy as np

from asyncsgd.codecs.base import CODECS, SCOPE, Capabilities
from asyncsgd.codecs.levels import LevelQuantizer
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.settings import setting

LEVELS = setting("levels", 7, "qsgd: levels s per sign (codes take 2, 4, 8 or 16 bits)", 1, 2**15 - 1)
BUCKET = setting("bucket", 512, "qsgd: coordinates sharing one norm (0: one per scope group)", 0, 2**31 - 1)


@CODECS.register("qsgd", "QSGD: unbiased stochastic rounding to s levels of each bucket's ℓ2 norm")
class QSGD(LevelQuantizer):
    """QSGD (Alistarh, Grubic, Li, Tomioka & Vojnovic, NeurIPS 2017) with ``s`` = ``levels``::

        Q(x)_i = ‖x_b‖₂ · sign(x_i) · ξ_i / s,   ξ_i = ⌊s|x_i|/‖x_b‖₂⌋ + Bernoulli(frac)

    for each bucket b of ``bucket`` consecutive coordinates (0: one bucket per scope group).
    Unbiased, with ``E‖Q(x) − x‖² ≤ min(d_b/s², √d_b/s)·‖x‖²``; not a contraction. Wire format:
    the signed level ``sign(x_i)·ξ_i`` in 2, 4, 8 or 16 bits (the smallest that holds ±s: s = 1
    takes 2 bits, s ≤ 7 takes 4) and one float32 per bucket. The paper's Elias coding of the
    levels is not used.
    """

    name = "qsgd"
    settings = (LEVELS, BUCKET, SCOPE)
    reference = "Alistarh, Grubic, Li, Tomioka & Vojnovic, QSGD, NeurIPS 2017"

    def __init__(self, layout: FlatLayout, levels: int = 7, bucket: int = 512, scope: str = "global") -> None:
        super().__init__(layout, levels, scope, bucket)

    @property
    def caps(self) -> Capabilities:
        return Capabilities(unbiased=True)

    def row_scales(self, rows: np.ndarray) -> tuple[np.ndarray, bool]:
        if rows.shape[0] == 1:
            return np.array([math.sqrt(float(np.dot(rows[0], rows[0])))]), False
        return np.sqrt(np.einsum("ij,ij->i", rows, rows).astype(np.float64)), False  # |x_i| ≤ ‖x_b‖₂
