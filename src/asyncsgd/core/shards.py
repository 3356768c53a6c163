"""A sharded parameter server, as in Downpour: the flat vector cut into S contiguous shards.

Each shard is an ordinary :class:`~asyncsgd.core.server.ParameterServer` over its slice of the
parameters, with its own version counter and its own rule state, so the update rule is the same
code whatever the number of shards. A learner still encodes its whole gradient with one codec
(global top-k stays global). Staleness is per shard: ``τ_s = v_s − v_s^pulled``.

A shard gets its coordinates of a push in one of two ways, which decode to the same update:

* the whole payload, decoded through a :class:`SliceCodec`, which keeps the coordinates that fall
  inside the shard (any codec; what ``local`` does, where every learner applies its own push);
* only its part, when the codec's payload can be cut (:attr:`Codec.shard_cut`: a dense vector,
  or values at coordinates): :func:`cut` makes the part, re-based to the shard's first coordinate,
  and the codec of :func:`part_codec` checks and decodes it, so a shard receives 1/S of the bytes
  (what ``ray`` sends, where a payload crosses the wire once per shard).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from asyncsgd.codecs.base import ArraySpec, Capabilities, Codec
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Rejection, Update

Where = slice | np.ndarray
"""Entries of an index array: a range, or their positions."""


def positions(indices: np.ndarray, start: int, stop: int) -> Where:
    """Which entries of ``indices`` hold coordinates in ``[start, stop)``: a range when they never
    decrease (an order check and two binary searches), else their positions (one pass), in numpy:
    torch's masked selection, what a shard used before, is several times slower
    (``python -m benchmarks.shard_decode``)."""
    if indices.size < 2 or bool((indices[1:] >= indices[:-1]).all()):
        lo, hi = np.searchsorted(indices, (start, stop))
        return slice(int(lo), int(hi))
    return np.flatnonzero((indices >= start) & (indices < stop))


def take(values: torch.Tensor, where: Where) -> torch.Tensor:
    """``values`` at ``where`` (a view for a range)."""
    return values[where] if isinstance(where, slice) else torch.from_numpy(values.numpy()[where])


def rebased(indices: np.ndarray, where: Where, start: int) -> torch.Tensor:
    """``indices`` at ``where``, less ``start`` (a new array of the same dtype)."""
    part = indices[where]
    return torch.from_numpy(part - part.dtype.type(start))


def inside(
    values: torch.Tensor, indices: torch.Tensor, start: int, stop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The entries of values-at-``indices`` with a coordinate in ``[start, stop)``: their values
    and their coordinates re-based to ``start``."""
    idx = indices.numpy()
    where = positions(idx, start, stop)
    return take(values, where), rebased(idx, where, start)


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


class ShardCodec(Codec):
    """A codec of shard ``[start, stop)`` of ``inner``'s vector: it only checks and decodes."""

    def __init__(self, inner: Codec, start: int, stop: int) -> None:
        super().__init__(FlatLayout.single(stop - start))
        self.inner = inner
        self.start, self.stop = start, stop
        self.name = inner.name  # type: ignore[misc]  (payloads name the inner codec)
        self.index_dtype = inner.index_dtype

    @property
    def caps(self) -> Capabilities:
        return self.inner.caps

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        raise NotImplementedError("a shard only decodes; learners encode with the whole codec")


class SliceCodec(ShardCodec):
    """The part of another codec's whole payload that falls in ``[start, stop)``.

    Validation is the whole payload's (a malformed push is malformed for every shard alike);
    decoding keeps the shard's coordinates, re-based to the shard's first one.
    """

    def __init__(self, inner: Codec, start: int, stop: int) -> None:
        super().__init__(inner, start, stop)
        self.scalars = inner.scalars  # type: ignore[misc]

    def decode(self, payload: Payload) -> Update:
        update = self.inner.decode(payload)
        if update.indices is None:
            return Update(update.values[self.start : self.stop], self.size, scale=update.scale)
        values, indices = inside(update.values, update.indices, self.start, self.stop)
        return Update(values, self.size, indices=indices, scale=update.scale)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self.inner.spec(payload)

    def check(self, payload: Payload) -> Rejection | None:
        return self.inner.check(payload)


class DensePart(ShardCodec):
    """A dense payload cut to ``[start, stop)``: the shard's slice of ``values``."""

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return {"values": ArraySpec(torch.float32, self.size)}


class CoordinatePart(ShardCodec):
    """A values-at-coordinates payload cut to ``[start, stop)``: the entries inside the shard,
    coordinates re-based to its first one (any number of them, each in range)."""

    def decode(self, payload: Payload) -> Update:
        return Update(payload.arrays["values"], self.size, indices=payload.arrays["indices"])

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        idx = payload.arrays.get("indices")
        n = int(idx.numel()) if idx is not None else 0
        return {"values": ArraySpec(torch.float32, n), "indices": ArraySpec(self.index_dtype, n)}


def cut_dense(payload: Payload, start: int, stop: int) -> Payload:
    return Payload(payload.codec, {"values": payload.arrays["values"][start:stop]})


def cut_coordinates(payload: Payload, start: int, stop: int) -> Payload:
    values, indices = inside(payload.arrays["values"], payload.arrays["indices"], start, stop)
    return Payload(payload.codec, {"values": values, "indices": indices})


@dataclass(frozen=True)
class Cut:
    """One way to cut a payload into the shards' parts."""

    payload: Callable[[Payload, int, int], Payload]
    """The part of a (checked) whole payload for shard ``[start, stop)``."""
    codec: Callable[[Codec, int, int], ShardCodec]
    """The codec that checks and decodes such a part, given the whole codec."""


CUTS: dict[str, Cut] = {
    "dense": Cut(cut_dense, DensePart),
    "coordinates": Cut(cut_coordinates, CoordinatePart),
}


def cuttable(codec: Codec) -> bool:
    """Whether ``codec``'s payloads are cut into the shards' parts."""
    return codec.shard_cut in CUTS


def cut(codec: Codec, payload: Payload, start: int, stop: int) -> Payload:
    """The part of ``payload`` (checked whole by ``codec`` first) for shard ``[start, stop)``."""
    return CUTS[codec.shard_cut].payload(payload, start, stop)


def part_codec(codec: Codec, start: int, stop: int) -> ShardCodec:
    """The codec shard ``[start, stop)`` decodes ``codec``'s pushes with: its part's when they are
    cut (:func:`cuttable`), else the whole payload's through a :class:`SliceCodec`."""
    if cuttable(codec):
        return CUTS[codec.shard_cut].codec(codec, start, stop)
    return SliceCodec(codec, start, stop)
