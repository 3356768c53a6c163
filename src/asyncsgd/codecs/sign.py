"""Scaled sign compression: signSGD with the ℓ1 scale, and its error-feedback form EF-signSGD."""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.codecs import bits
from asyncsgd.codecs.base import CODECS, SCOPE, ArraySpec, Capabilities, Codec, scope_ranges
from asyncsgd.codecs.chunks import signs_and_sums
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update


@CODECS.register("sign", "signSGD with the ℓ1 scale: mean |x| · sign(x), one bit per coordinate")
class ScaledSign(Codec):
    """Scaled sign (signSGD, Bernstein et al. 2018, with the ℓ1 scale of Karimireddy et al. 2019)::

        C(x)_g = (‖x_g‖₁ / d_g) · sign(x_g)        for each group g (the vector, or each layer)

    Wire format: one bit per coordinate (set for a negative sign, ``−0.0`` included) and one
    float32 scale per group. Biased. Contractive: ``‖x − C(x)‖² = ‖x‖² − Σ_g ‖x_g‖₁²/d_g``, and
    ``‖x_g‖₁² ≥ ‖x_g‖²`` gives δ = 1/max_g d_g for every vector (far better on dense gradients).
    Without error feedback this is scaled signSGD; the unscaled rule ``x ← x − γ·sign(g)`` is the
    same direction with the magnitude left to γ.
    """

    name = "sign"
    settings = (SCOPE,)
    reference = "Bernstein et al., signSGD, ICML 2018; Karimireddy et al., ICML 2019 (scale)"

    def __init__(self, layout: FlatLayout, scope: str = "global") -> None:
        super().__init__(layout)
        self.ranges = scope_ranges(layout, scope)
        self._spec = {
            "bits": ArraySpec(torch.uint8, bits.packed_nbytes(self.size, 1)),
            "scales": ArraySpec(torch.float32, len(self.ranges)),
        }

    @property
    def caps(self) -> Capabilities:
        widest = max(b - a for a, b in self.ranges)
        return Capabilities(contraction=1.0 / widest, feedback=self.feedback)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        packed, absolute, _, _ = signs_and_sums(x.detach().numpy(), self.ranges, sides=False)
        scales = (absolute / [b - a for a, b in self.ranges]).astype(np.float32)
        return Payload(self.name, {"bits": torch.from_numpy(packed), "scales": torch.from_numpy(scales)})

    def decode(self, payload: Payload) -> Update:
        packed, scales = payload.arrays["bits"].numpy(), payload.arrays["scales"].tolist()
        out = np.empty(self.size, dtype=np.float32)
        if len(self.ranges) == 1:  # one scale: ±1 values, the scale stays lazy (folded into the rate)
            bits.expand_bits(packed, 0, self.size, 1.0, -1.0, out)
            return Update(torch.from_numpy(out), self.size, scale=scales[0])
        for (a, b), s in zip(self.ranges, scales, strict=True):
            bits.expand_bits(packed, a, b, s, -s, out[a:b])
        return Update(torch.from_numpy(out), self.size)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def estimate_nbytes(self) -> int:
        return bits.packed_nbytes(self.size, 1) + 4 * len(self.ranges)


@CODECS.register("efsign", "EF-signSGD: the scaled sign, always with error feedback")
class EFSign(ScaledSign):
    """EF-signSGD (Karimireddy, Rebjock, Stich & Jaggi, ICML 2019): the scaled sign ``C`` of
    ``sign``, defined with error feedback, so it always runs inside the error-feedback wrapper::

        v = m + g;   send C(v) = (‖v‖₁/d)·sign(v);   m ← v − C(v)

    The memory is what makes it converge where plain (scaled) signSGD may not.
    """

    name = "efsign"
    feedback = True
    reference = "Karimireddy, Rebjock, Stich & Jaggi, Error feedback fixes SignSGD, ICML 2019"
