"""Payloads as Ray moves them: numpy arrays, so they travel through the object store as raw buffers.

A :class:`~asyncsgd.core.messages.Payload` holds torch tensors; Ray pickles numpy arrays out of
band (pickle protocol 5), so a large array is one copy into shared memory on the sending side and
a zero-copy, read-only view on the receiving side, with no Python work per element. The server
decodes straight from that view.

With several shards a dense (``identity``) payload is cut into the shards' slices, each sent only
to its shard, whose server then runs the identity codec over its slice; every other codec's
payload (sparse, packed bits, scales) is sent whole, put into the object store once, and each
shard decodes its part through a :class:`~asyncsgd.core.shards.SliceCodec`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from asyncsgd.codecs.base import Codec
from asyncsgd.codecs.identity import Identity
from asyncsgd.core.messages import Payload

Wire = tuple[str, dict[str, np.ndarray], dict[str, float | int]]


def sliceable(codec: Codec) -> bool:
    """Whether a payload of ``codec`` is a coordinate-aligned dense vector, cut by slicing."""
    return isinstance(codec, Identity)


def to_wire(payload: Payload) -> Wire:
    return payload.codec, {k: v.detach().numpy() for k, v in payload.arrays.items()}, dict(payload.scalars)


def slice_wire(wire: Wire, start: int, stop: int) -> Wire:
    """The part of a dense payload that falls in ``[start, stop)`` (views, no copies)."""
    codec, arrays, scalars = wire
    return codec, {k: v[start:stop] for k, v in arrays.items()}, scalars


READ_ONLY = "The given NumPy array is not writable"
"""The start of torch's warning for a tensor over a read-only array."""


def receive_read_only() -> None:
    """Prepare this process to wrap received buffers (:func:`from_buffer`) without a warning.

    torch warns the first time a process wraps a read-only array, and never again; this spends
    that one warning, silenced, on a one-element array. (A filter around every conversion,
    ``warnings.catch_warnings``, costs tens of µs a call in an actor.)"""
    probe = np.zeros(1, np.float32)
    probe.flags.writeable = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=READ_ONLY)
        torch.from_numpy(probe)


def from_buffer(array: np.ndarray) -> torch.Tensor:
    """A tensor over a received buffer (a read-only view of the object store: never written);
    the process calls :func:`receive_read_only` first."""
    return torch.from_numpy(array)


def from_wire(wire: Wire) -> Payload:
    """A payload over the received buffers."""
    codec, arrays, scalars = wire
    return Payload(codec, {k: from_buffer(v) for k, v in arrays.items()}, scalars)


def wire_nbytes(wire: Wire) -> int:
    return sum(int(v.nbytes) for v in wire[1].values())
