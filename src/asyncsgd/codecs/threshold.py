"""Threshold quantisation with error feedback (Strom 2015)."""

from __future__ import annotations

import math

import numpy as np
import torch

from asyncsgd.codecs.base import CODECS, ArraySpec, Capabilities, Codec, check_number
from asyncsgd.codecs.selection import TopKSelector, magnitude_key
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Rejection, Update
from asyncsgd.vocabulary.settings import MAX_RATE, setting

THRESHOLD = setting(
    "threshold", 0.05, "threshold: Strom's τ; ±τ is sent where |m + g| ≥ τ", 0, MAX_RATE, True
)


@CODECS.register("threshold", "Strom: ±τ where |x| ≥ τ, nothing elsewhere; 4 bytes per sent coordinate")
class Threshold(Codec):
    """Threshold quantisation (Strom, Interspeech 2015), defined with error feedback::

        v = m + g
        C(v)_i = τ·sign(v_i) if |v_i| ≥ τ, else 0 (not sent)
        m ← v − C(v)

    Only the coordinates that reach the threshold travel, each as one 32-bit word holding its
    index and its sign (``2·i + [v_i < 0]``; 64-bit words beyond 2³⁰ coordinates), plus τ itself
    as a scalar (NaN when a sent value was not finite, so the server rejects the push). The size
    depends on the data, and a vector below τ everywhere sends nothing: not a contraction; the
    residual carries the mass until it crosses τ.
    """

    name = "threshold"
    settings = (THRESHOLD,)
    feedback = True
    scalars = ("scale",)
    reference = (
        "Strom, Scalable distributed DNN training using commodity GPU cloud computing, Interspeech 2015"
    )

    def __init__(self, layout: FlatLayout, threshold: float = 0.05) -> None:
        super().__init__(layout)
        self.threshold = check_number("threshold", threshold, 0.0, open_low=True)
        self._key = magnitude_key(self.threshold)
        self._dtype = np.int32 if self.size < 2**30 else np.int64
        self._selector = TopKSelector()

    @property
    def caps(self) -> Capabilities:
        return Capabilities(fixed_size=False, sparse=True, feedback=True)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        xn = x.detach().numpy()
        idx = self._selector.at_least(xn, self._key)
        sent = xn[idx]
        codes = idx.astype(self._dtype)
        codes <<= 1
        codes |= np.signbit(sent)
        finite = bool(np.isfinite(sent).all()) if sent.size else True
        scale = self.threshold if finite else math.nan
        return Payload(self.name, {"codes": torch.from_numpy(codes)}, {"scale": scale})

    def decode(self, payload: Payload) -> Update:
        codes = payload.arrays["codes"].numpy()
        tau = np.float32(payload.scalars["scale"])
        values = np.full(codes.size, tau, dtype=np.float32)
        values[(codes & 1).astype(bool)] = -tau
        indices = torch.from_numpy(codes >> 1)
        return Update(torch.from_numpy(values), self.size, indices=indices)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        codes = payload.arrays.get("codes")
        n = int(codes.numel()) if codes is not None else 0
        return {"codes": ArraySpec(torch.int32 if self._dtype is np.int32 else torch.int64, n)}

    def check(self, payload: Payload) -> Rejection | None:
        reason = super().check(payload)
        if reason is not None:
            return reason
        codes = payload.arrays["codes"]
        if codes.numel() > self.size:
            return Rejection("shape", f"{codes.numel()} coordinates sent, the vector has {self.size}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >> 1 >= self.size):
            return Rejection("index", f"index out of range [0, {self.size})")
        return None
