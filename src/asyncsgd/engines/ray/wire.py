"""Payloads and answers as Ray moves them: raw buffers, inside the call's message or through the
object store.

A :class:`~asyncsgd.vocabulary.messages.Payload` holds torch tensors; Ray pickles numpy arrays out of
band (pickle protocol 5), so a large array is one copy into the object store's shared memory on
the sending side and a zero-copy, read-only view on the receiving side, with no Python work per
element. The server decodes straight from that view.

Ray sends an object under 100 KiB inside the call's message (or its reply) and puts a larger one
into the object store, a trip of its own. So a payload or an answer of up to ``INLINE_LIMIT``
bytes travels as chunks of under 100 KiB, each inside the message (:func:`split`, :func:`join`,
:func:`chunks`): answers of 400 and 800 kB came back faster that way than as one object in the
store, one of 4 MB slower (``python -m benchmarks.ray_transport``).

With several shards a payload that can be cut (a dense vector, or values at coordinates) is cut
into the shards' parts, each sent only to its shard (:func:`asyncsgd.core.shards.cut`); any other
(packed bits, scales, a seed) is sent whole, and each shard decodes its part through a
:class:`~asyncsgd.core.shards.SliceCodec`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from asyncsgd.vocabulary.messages import Payload

Wire = tuple[str, dict[str, np.ndarray], dict[str, float | int]]
Head = tuple[str, dict[str, tuple[str, int]], dict[str, float | int]]
"""A wire whose arrays travel as chunks: each array's dtype and number of chunks, in order."""

INLINE_BYTES = 100 * 1024
"""Ray sends an object under this many bytes inside the call's message (or its reply)."""
CHUNK_BYTES = 96 * 1024
"""Bytes of one chunk: with its serialisation header it stays under ``INLINE_BYTES``."""
INLINE_LIMIT = 512 * 1024
"""Most bytes sent as inline chunks: on the safe side of where chunks stop paying (between 800 kB
and 4 MB for an answer here, not located closer)."""


def to_wire(payload: Payload) -> Wire:
    return payload.codec, {k: v.detach().numpy() for k, v in payload.arrays.items()}, dict(payload.scalars)


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


def chunked(nbytes: int) -> bool:
    """Whether ``nbytes`` travel as inline chunks (too big for one message, small enough for several)."""
    return INLINE_BYTES < nbytes <= INLINE_LIMIT


def chunks(array: np.ndarray) -> list[bytes]:
    """The bytes of ``array`` (contiguous) cut into chunks of at most ``CHUNK_BYTES`` (one, possibly
    empty, at least). Bytes, not arrays: Ray serialises a bytes object without pickling it."""
    data = memoryview(array).cast("B")
    return [bytes(data[i : i + CHUNK_BYTES]) for i in range(0, len(data), CHUNK_BYTES)] or [b""]


def unchunk(parts: list[bytes] | tuple[bytes, ...], dtype: np.dtype | str) -> np.ndarray:
    """The array :func:`chunks` cut into ``parts`` (read-only; one copy when there are several)."""
    return np.frombuffer(parts[0] if len(parts) == 1 else b"".join(parts), dtype)


def chunk_count(items: int, itemsize: int = 4) -> int:
    """How many chunks :func:`chunks` cuts ``items`` values of ``itemsize`` bytes into."""
    return max(1, -(-items * itemsize // CHUNK_BYTES))


def answer_chunks(size: int, changes: bool) -> int:
    """Objects beyond the :class:`~asyncsgd.engines.ray.protocol.Reply` that a learner asks a shard
    of ``size`` parameters to answer with (``Call.chunks``): a whole slice in chunks when it is of
    a size for that; else, when the shard may answer with changes, as many as changes of up to
    ``INLINE_LIMIT`` bytes take; else none (the slice travels in the reply)."""
    if chunked(4 * size):
        return chunk_count(size)
    return chunk_count(INLINE_LIMIT // 4) if changes and 4 * size > INLINE_LIMIT else 0


def pack_changes(values: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Changed values (float32) and their coordinates (int32) as one float32 array, to chunk."""
    return np.concatenate([values, changed.view(np.float32)])


def unpack_changes(packed: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The values and coordinates :func:`pack_changes` packed, ``count`` of each."""
    return packed[:count], packed[count:].view(np.int32)


def split(wire: Wire) -> tuple[Head, list[bytes]]:
    """A wire as its head and its arrays' chunks, to send each chunk inside the call's message."""
    codec, arrays, scalars = wire
    parts = {k: chunks(v) for k, v in arrays.items()}
    head = {k: (arrays[k].dtype.str, len(v)) for k, v in parts.items()}
    return (codec, head, scalars), [c for v in parts.values() for c in v]


def join(head: Head, parts: tuple[bytes, ...]) -> Wire:
    """The wire :func:`split` cut into ``head`` and ``parts`` (read-only arrays)."""
    codec, counts, scalars = head
    arrays, i = {}, 0
    for k, (dtype, n) in counts.items():
        arrays[k] = unchunk(parts[i : i + n], dtype)
        i += n
    return codec, arrays, scalars
