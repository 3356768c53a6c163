"""The identity codec: the dense gradient, uncompressed (plain Downpour)."""

from __future__ import annotations

import torch

from asyncsgd.codecs.base import CODECS, ArraySpec, Capabilities, Codec
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Rejection, Update


@CODECS.register("identity", "dense float32 gradient, no compression")
class Identity(Codec):
    """``C(x) = x``; sends ``4·d`` bytes."""

    name = "identity"
    shard_cut = "dense"
    reference = "Dean et al., Large scale distributed deep networks, NeurIPS 2012 (Downpour)"

    def __init__(self, layout: FlatLayout) -> None:
        super().__init__(layout)
        self._spec = {"values": ArraySpec(torch.float32, self.size)}

    @property
    def caps(self) -> Capabilities:
        return Capabilities(unbiased=True, contraction=1.0)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        return Payload(self.name, {"values": x.detach().clone()})

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def check(self, payload: Payload) -> Rejection | None:
        """As :meth:`Codec.check`, with the one well-formed shape a dense payload has tested first:
        the server checks every push, and this takes under half the generic check's time."""
        arrays = payload.arrays
        values = arrays.get("values")
        if (
            payload.codec == self.name
            and len(arrays) == 1
            and values is not None
            and values.dtype == torch.float32
            and values.dim() == 1
            and values.shape[0] == self.size
        ):
            return None
        return super().check(payload)

    def estimate_nbytes(self) -> int:
        return self.dense_nbytes()
