"""What a learner actor and a shard actor say to each other, and what a shard logs per push.

One remote call per shard and cycle, ``exchange(call, payload, *chunks)``, does both halves of
Downpour's round trip: it applies this push and answers with the shard's fresh parameters and
version (the next cycle's pull). Ray costs milliseconds per call, so fusing them halves the calls
per update. When the shard knows which coordinates changed since the version the learner holds
(:mod:`asyncsgd.engines.change_log`), the answer carries only those: a reply of a few kilobytes
travels inside the call's message, while a whole slice goes through the object store, or, up to
``INLINE_LIMIT`` bytes, as chunks inside the message (:mod:`.wire`; the payload likewise).

Shard 0 also *admits* pushes (see :mod:`.admission`), so its answer carries a status: ``OK``
(handled; go on), ``END`` (handled; the run is ending or pausing, return to the driver) or
``REFUSED`` (not applied: the budget is spent or the run stops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

OK, END, REFUSED = 0, 1, 2
PULL, PUSH, REJECTED = 0, 1, 2
"""Kinds of call: a pull alone; a push (with the pull fused); a push the learner found malformed
as a whole (with several shards it is refused by every shard: shard 0 records it, no shard
applies it)."""


@dataclass(frozen=True, slots=True)
class Call:
    kind: int
    learner: int
    """The learner actor's index (its pushes are counted against it, whatever their header says)."""
    incarnation: int
    n: int
    """This push's number in the learner's incarnation (1, 2, ...); 0 for a pull."""
    pulled: int = 0
    """The version of *this shard* the gradient was computed at."""
    push_learner: int = 0
    """The learner id in the push's header (validated by the core server)."""
    nbytes: int = 0
    """Bytes of the whole push (all shards' parts)."""
    samples: int = 0
    loss: float = math.nan
    pull: float = 0.0
    compute: float = 0.0
    compress: float = 0.0
    wait: float = 0.0
    previous: tuple[float, float] | None = None
    """(push, apply) seconds of this learner's push ``n − 1``, known only once its reply came."""
    want: bool = True
    """Answer with the parameters (False when the learner pulls separately: local steps first)."""
    chunks: int = 0
    """Answer as a :class:`Reply` and this many more objects, the parameters of the answer: the
    slice or its changes in chunks each inside the reply's message, or a whole slice too large for
    that as the first object (``None`` for the rest, and for all when the :class:`Reply` holds
    them); 0: the reply alone."""
    reserved: bool = False
    """Shard 0 reserved a slot in the budget for this push (several shards)."""
    have: int = -1
    """The version of this shard the learner's copy holds (−1: it keeps none; answer in full)."""
    down: int = 0
    """Bytes of the pull this push's gradient was computed at (all shards' answers)."""
    code: str = ""
    reason: str = ""


class Reply(NamedTuple):
    status: int
    version: int
    apply: float
    """Seconds the shard spent in the core ``apply``."""
    reserved: bool
    """Shard 0: a slot is reserved for this learner's next push."""
    params: np.ndarray | None
    """The shard's slice, or its values at ``changed`` only."""
    changed: np.ndarray | None = None
    """Coordinates of the slice (int32, repeats possible) the learner's copy must take from
    ``params``; ``None``: ``params`` is the whole slice."""
    count: int = -1
    """With chunks (``Call.chunks``): they hold ``count`` changed values, then their coordinates
    (int32, as float32 bits); −1: they hold the whole slice."""
    narrow: bool = False
    """The shard's last update is logged with its coordinates, so the learner's next answer may
    carry changes only: its next call asks for chunks to carry them in. (Else it asks for none,
    and a whole slice too large for the message travels in the reply, with no extra objects.)"""

    @property
    def nbytes(self) -> int:
        """Bytes of parameters this answer carried."""
        if self.params is None:
            return 0
        return int(self.params.nbytes) + (0 if self.changed is None else int(self.changed.nbytes))


class ShardRow(NamedTuple):
    """One push as a shard saw it (the driver joins the shards' rows into the trace)."""

    seq: int
    """Shard 0: position in its apply order (1, 2, ...); other shards: 0."""
    kind: int
    learner: int
    incarnation: int
    n: int
    pulled: int
    version: int
    """This shard's version after the push (shard 0 with several shards: the update number)."""
    tau: int
    accepted: bool
    applied: bool
    nbytes: int
    samples: int
    loss: float
    grad_norm: float
    lr: float
    end: float
    pull: float
    compute: float
    compress: float
    wait: float
    apply: float
    previous: tuple[float, float] | None
    down: int
    code: str
    reason: str
