"""1-bit quantisation with error feedback (Seide et al. 2014)."""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.codecs import bits
from asyncsgd.codecs.base import CODECS, SCOPE, ArraySpec, Capabilities, Codec, scope_ranges
from asyncsgd.codecs.chunks import signs_and_sums
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update


@CODECS.register("onebit", "1-bit SGD: one bit per coordinate, decoded to the mean of its side")
class OneBit(Codec):
    """1-bit SGD (Seide, Fu, Droppo, Li & Yu, Interspeech 2014), defined with error feedback::

        C(x)_i = μ⁻_g if x_i < 0 else μ⁺_g,   μ∓_g = mean of the negative / non-negative x_i of group g
        v = m + g;   send C(v);   m ← v − C(v)

    Wire format: one bit per coordinate and two float32 means per group (the paper quantises each
    column of a weight matrix; here a group is the vector or a layer, by ``scope``). Biased;
    contractive with δ = 1/max_g d_g, since ``‖x − C(x)‖² = ‖x‖² − Σ S²/n`` over both sides of
    every group and, by Cauchy–Schwarz, ``S⁺²/n⁺ + S⁻²/n⁻ ≥ ‖x_g‖₁²/d_g ≥ ‖x_g‖²/d_g``.
    """

    name = "onebit"
    settings = (SCOPE,)
    feedback = True
    reference = "Seide, Fu, Droppo, Li & Yu, 1-bit SGD, Interspeech 2014"

    def __init__(self, layout: FlatLayout, scope: str = "global") -> None:
        super().__init__(layout)
        self.ranges = scope_ranges(layout, scope)
        self._spec = {
            "bits": ArraySpec(torch.uint8, bits.packed_nbytes(self.size, 1)),
            "means": ArraySpec(torch.float32, 2 * len(self.ranges)),
        }

    @property
    def caps(self) -> Capabilities:
        widest = max(b - a for a, b in self.ranges)
        return Capabilities(contraction=1.0 / widest, feedback=True)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        packed, absolute, total, negatives = signs_and_sums(x.detach().numpy(), self.ranges)
        sizes = np.array([b - a for a, b in self.ranges])
        # Σ over the negative side is (Σx − Σ|x|)/2, over the non-negative side (Σx + Σ|x|)/2
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.empty(2 * len(self.ranges))
            means[0::2] = np.where(negatives > 0, (total - absolute) / 2 / negatives, 0.0)
            positives = sizes - negatives
            means[1::2] = np.where(positives > 0, (total + absolute) / 2 / positives, 0.0)
        arrays = {"bits": torch.from_numpy(packed), "means": torch.from_numpy(means.astype(np.float32))}
        return Payload(self.name, arrays)

    def decode(self, payload: Payload) -> Update:
        packed, means = payload.arrays["bits"].numpy(), payload.arrays["means"].tolist()
        out = np.empty(self.size, dtype=np.float32)
        for g, (a, b) in enumerate(self.ranges):
            bits.expand_bits(packed, a, b, means[2 * g + 1], means[2 * g], out[a:b])
        return Update(torch.from_numpy(out), self.size)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def estimate_nbytes(self) -> int:
        return bits.packed_nbytes(self.size, 1) + 8 * len(self.ranges)
