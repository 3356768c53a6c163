"""A sharded parameter server, as in Downpour: the flat vector cut into S contiguous shards.

Each shard is an ordinary :class:`~asyncsgd.core.server.ParameterServer` over its slice of the
parameters, with its own version counter and its own rule state, so the update rule is the same
code whatever the number of shards. A learner still encodes its whole gradient with one codec
(global top-k stays global); each shard decodes the whole payload through a :class:`SliceCodec`
and applies the coordinates that fall inside it. Staleness is per shard: ``τ_s = v_s − v_s^pulled``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asyncsgd.codecs.base import ArraySpec, Capabilities, Codec
from asyncsgd.core.flat import FlatLayout
from asyncsgd.core.messages import Payload, Rejection, Update


@dataclass(frozen=True)
class ShardPlan:
    """``S`` contiguous, nearly equal slices ``[start, stop)`` of a vector of ``size`` floats."""

    size: int
    shards: int

    def __post_init__(self) -> None:
        if not (1 <= self.shards <= max(self.size, 1)):
            raise ValueError(f"shards must be in [1, {self.size}], got {self.shards}")

    def bounds(self, s: int) -> tuple[int, int]:
        base, extra = divmod(self.size, self.shards)
        start = s * base + min(s, extra)
        return start, start + base + (1 if s < extra else 0)

    def __iter__(self):
        return (self.bounds(s) for s in range(self.shards))


class SliceCodec(Codec):
    """The part of another codec's payload that falls in ``[start, stop)``.

    Validation is the whole payload's (a malformed push is malformed for every shard alike);
    decoding keeps the shard's coordinates, re-based to the shard's first one.
    """

    def __init__(self, inner: Codec, start: int, stop: int) -> None:
        super().__init__(FlatLayout.single(stop - start))
        self.inner = inner
        self.start, self.stop = start, stop
        self.name = inner.name  # type: ignore[misc]  (payloads name the inner codec)
        self.scalars = inner.scalars  # type: ignore[misc]
        self.index_dtype = inner.index_dtype

    @property
    def caps(self) -> Capabilities:
        return self.inner.caps

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        raise NotImplementedError("a shard only decodes; learners encode with the whole codec")

    def decode(self, payload: Payload) -> Update:
        update = self.inner.decode(payload)
        if update.indices is None:
            return Update(update.values[self.start : self.stop], self.size, scale=update.scale)
        idx = update.indices
        keep = (idx >= self.start) & (idx < self.stop)
        return Update(update.values[keep], self.size, indices=idx[keep] - self.start, scale=update.scale)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self.inner.spec(payload)

    def check(self, payload: Payload) -> Rejection | None:
        return self.inner.check(payload)
