"""Unbiased sparsification with magnitude-proportional keep probabilities (Wangni et al. 2018)."""

from __future__ import annotations

import math

import numpy as np
import torch

from asyncsgd.codecs import uniform
from asyncsgd.codecs.base import (
    CODECS,
    RATIO,
    SCOPE,
    ArraySpec,
    Capabilities,
    Codec,
    check_ratio,
    keep_count,
    scope_ranges,
)
from asyncsgd.codecs.chunks import CHUNK, abs_sum, spans
from asyncsgd.codecs.selection import TopKSelector, magnitude_key
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update

MAX_ROUNDS = 16


@CODECS.register("wangni", "unbiased sparsification: keep x_i with probability ∝ |x_i|, send x_i/p_i")
class MagnitudeSampling(Codec):
    """Gradient sparsification of Wangni, Wang, Liu & Zhang (NeurIPS 2018)::

        p_i = min(1, λ_g·|x_i|),  λ_g such that Σ_{i∈g} p_i = k_g = ⌊ρ·d_g⌋
        Q(x)_i = x_i / p_i with probability p_i, else 0

    Unbiased for any λ, and for a given expected number of kept coordinates these are the
    probabilities of least variance. λ_g comes from the paper's greedy iteration: start at
    ``k/‖x‖₁``; the coordinates it saturates (``λ|x_i| ≥ 1``) are kept surely, and λ is re-solved
    for the rest, ``λ ← (k − n_sat)/Σ_{unsaturated}|x_i|``, until no new coordinate saturates.
    The kept values and int32 indices travel (about ρ·d of each, a random number).
    """

    name = "wangni"
    shard_cut = "coordinates"
    settings = (RATIO, SCOPE)
    reference = (
        "Wangni, Wang, Liu & Zhang, Gradient sparsification for communication-efficient "
        "distributed optimization, NeurIPS 2018"
    )

    def __init__(self, layout: FlatLayout, ratio: float, scope: str = "global") -> None:
        super().__init__(layout)
        self.ratio = check_ratio(ratio)
        self.ranges = scope_ranges(layout, scope)
        self._selector = TopKSelector()

    @property
    def caps(self) -> Capabilities:
        return Capabilities(unbiased=True, fixed_size=False, sparse=True)

    def rate(self, part: np.ndarray) -> float:
        """λ of one group (0 when the group is zero, NaN when it is not finite)."""
        k = keep_count(self.ratio, part.size)
        total = abs_sum(part)
        if not math.isfinite(total):
            return math.nan
        lam = k / total if total > 0 else 0.0
        saturated = -1
        for _ in range(MAX_ROUNDS):
            if not (0.0 < lam < np.inf):
                break
            sat = self._selector.at_least(part, magnitude_key(1.0 / lam))
            if sat.size == saturated or sat.size >= k:
                break
            saturated = sat.size
            rest = total - float(np.abs(part[sat]).sum(dtype=np.float64))
            if rest <= 0.0:
                break
            lam = (k - saturated) / rest
        return lam

    def sample(self, part: np.ndarray, lam: float, bits: np.random.BitGenerator) -> np.ndarray:
        """Indices kept with probability ``min(1, λ|x_i|)``: ``u < λ|x_i|`` with ``u = U − 1``."""
        scratch = np.empty(min(CHUNK, part.size), dtype=np.float32)
        noise = np.empty_like(scratch)
        kept = []
        for lo, hi in spans(part.size):
            t = scratch[: hi - lo]
            np.abs(part[lo:hi], out=t)
            t *= np.float32(lam)
            t += np.float32(1.0)
            u = uniform.uniform_above(bits, hi - lo, 0, noise)
            hits = np.flatnonzero(u < t)
            if hits.size:
                kept.append(hits + lo)
        return np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        xn = x.detach().numpy()
        bits = uniform.generator(seed)
        idx_parts, val_parts = [], []
        for a, b in self.ranges:
            part = xn[a:b]
            with np.errstate(invalid="ignore", over="ignore"):
                lam = self.rate(part)
            if not np.isfinite(lam):  # NaN/Inf in the group: send those values so the server rejects
                idx = np.flatnonzero(~np.isfinite(part))
                values = part[idx]
            elif lam == 0.0:
                continue
            else:
                idx = self.sample(part, lam, bits)
                kept = part[idx].astype(np.float64)
                values = (kept / np.minimum(1.0, lam * np.abs(kept))).astype(np.float32)
            idx_parts.append(idx + a)
            val_parts.append(values)
        idx = np.concatenate(idx_parts) if idx_parts else np.empty(0, dtype=np.int64)
        values = np.concatenate(val_parts) if val_parts else np.empty(0, dtype=np.float32)
        indices = idx.astype(np.int32 if self.index_dtype == torch.int32 else np.int64)
        return Payload(self.name, {"values": torch.from_numpy(values), "indices": torch.from_numpy(indices)})

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size, indices=payload.arrays["indices"])

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        idx = payload.arrays.get("indices")
        n = min(int(idx.numel()), self.size) if idx is not None else 0
        return {"values": ArraySpec(torch.float32, n), "indices": ArraySpec(self.index_dtype, n)}
