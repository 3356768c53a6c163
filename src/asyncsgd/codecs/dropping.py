"""Gradient dropping: a sampled threshold keeps about the largest ρ fraction (Aji & Heafield 2017)."""

from __future__ import annotations

import math

import numpy as np
import torch

from asyncsgd.codecs.base import (
    CODECS,
    RATIO,
    SCOPE,
    ArraySpec,
    Capabilities,
    Codec,
    check_ratio,
    scope_ranges,
)
from asyncsgd.codecs.selection import TopKSelector, magnitudes
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update

SAMPLE_FRACTION = 0.001  # the paper samples 0.1% of the gradient to find the threshold
SAMPLE_ABOVE = 100  # and at least this many sampled values above it: the count is then within ~±10%


@CODECS.register("dropping", "gradient dropping: keep |x| ≥ a threshold sampled for ratio ρ, with EF")
class GradientDropping(Codec):
    """Gradient dropping (Aji & Heafield, EMNLP 2017), defined with error feedback::

        t_g = the ⌈ρ·m⌉-th largest |v_i| of m coordinates of group g sampled at random
        v = m + g;   C(v)_i = v_i if |v_i| ≥ t_g, else 0;   m ← v − C(v)

    Top-k with error feedback, except that the threshold comes from a sample instead of an exact
    selection: ``m`` = 0.1% of the group (as in the paper), but at least 100/ρ so that about 100
    sampled values lie above the threshold, which keeps the count within about ±10% of ρ·d
    (0.1% alone gives ±30% at ρ = 1% for a million coordinates). The payload size varies. The
    threshold is a sampled magnitude, so every group keeps at least its largest coordinate:
    contractive with δ = 1/max_g d_g for every vector and seed.
    """

    name = "dropping"
    shard_cut = "coordinates"
    settings = (RATIO, SCOPE)
    feedback = True
    reference = "Aji & Heafield, Sparse communication for distributed gradient descent, EMNLP 2017"

    def __init__(self, layout: FlatLayout, ratio: float, scope: str = "global") -> None:
        super().__init__(layout)
        self.ratio = check_ratio(ratio)
        self.ranges = scope_ranges(layout, scope)
        self._selector = TopKSelector()

    @property
    def caps(self) -> Capabilities:
        widest = max(b - a for a, b in self.ranges)
        return Capabilities(contraction=1.0 / widest, fixed_size=False, sparse=True, feedback=True)

    def threshold(self, part: np.ndarray, rng: np.random.Generator) -> np.int32:
        """Magnitude key of the sampled threshold of one group."""
        n = part.size
        m = min(n, max(math.ceil(SAMPLE_ABOVE / self.ratio), math.ceil(SAMPLE_FRACTION * n)))
        sample = magnitudes(part[rng.integers(0, n, m)])
        rank = min(m, max(1, math.ceil(self.ratio * m)))
        return np.partition(sample, m - rank)[m - rank]

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        xn = x.detach().numpy()
        rng = np.random.Generator(np.random.PCG64(seed))
        parts = [self._selector.at_least(xn[a:b], self.threshold(xn[a:b], rng)) + a for a, b in self.ranges]
        idx = parts[0] if len(parts) == 1 else np.concatenate(parts)
        indices = idx.astype(np.int32 if self.index_dtype == torch.int32 else np.int64)
        return Payload(self.name, {"values": torch.from_numpy(xn[idx]), "indices": torch.from_numpy(indices)})

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size, indices=payload.arrays["indices"])

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        idx = payload.arrays.get("indices")
        n = min(int(idx.numel()), self.size) if idx is not None else 0
        return {"values": ArraySpec(torch.float32, n), "indices": ArraySpec(self.index_dtype, n)}
