"""Which coordinates each recent update of a shard changed, so that a pull can copy only those.

A learner keeps what it pulled last in its model's buffer, which its passes read and never
write. If shard s went from version u to v since, and each of the updates u+1, ..., v changed
only the coordinates its push carried (a sparse push under a rule that keeps to them,
``ServerRule.in_support``), then copying the union of those coordinates brings the learner's copy
to exactly the shard's version v: the same bits a full copy gives, for a fraction of its memory
traffic.

It pays only while the changes are few: copying a scattered coordinate costs about 26 ns here
(a cache miss), a contiguous one about 0.4 ns (10^7 float32: 2.6 ms to gather and scatter 10^5
coordinates, 3.7 ms to copy all of them; ``python -m benchmarks.pull_changes``). So the
changes since a learner's last pull are copied one by one only when they number at most 1/64 of
the shard (``width``), and only in shards of at least ``MIN_SHARD`` parameters, below which the
fixed cost of the bookkeeping exceeds that of a full copy. That is one top-1% push, or up to 15
top-0.1% pushes, between two pulls.

Each shard keeps the index sets of its last ``SLOTS`` updates in the arena, written under the
shard's lock by whoever applied the update and read under it by whoever pulls. An update that
changed any other parameter (a dense push, a rule such as momentum that moves every coordinate),
a gap longer than the log, or more changes than ``width`` means a full copy. So does a lock
taken over from a learner that died holding it (its update may be half applied and unlogged):
the shard's ``epoch`` moves on, and every learner's next pull of it is a full copy.
"""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.core.server import ParameterServer

ANY = -1
"""Count of an update that may have changed every coordinate."""
SLOTS = 16
WIDTH_DIVISOR = 64
"""Changes are copied one by one while they number at most 1/64 of the shard."""
MIN_SHARD = 2**20


def change_log_shape(server: ParameterServer, shard_size: int) -> tuple[int, int]:
    """(slots, width) of each shard's log: (0, 0) when every pull should be a full copy (no update
    can be sparse under this codec and rule, or the shard is too small to gain)."""
    if shard_size < MIN_SHARD or not (server.codec.caps.sparse and server.rule.in_support):
        return 0, 0
    return SLOTS, shard_size // WIDTH_DIVISOR


class ChangeLog:
    """The index sets of one shard's last ``slots`` updates (views of the arena)."""

    def __init__(self, tags: np.ndarray, indices: torch.Tensor) -> None:
        self.tags = tags[:-1]
        """``tags[v % slots] = (v, count)``: update v changed ``count`` coordinates (ANY: unknown)."""
        self.epoch = tags[-1]
        """``epoch[0]`` moves on when the log may have missed a change (a full copy is due)."""
        self.indices = indices
        self.slots, self.width = indices.shape

    def invalidate(self) -> None:
        """Every learner's copy of this shard may be out of date (call under the shard's lock)."""
        self.epoch[0] += 1

    def record(self, version: int, support: torch.Tensor | None) -> None:
        """Log update ``version`` (call under the shard's lock, after applying it)."""
        slot = version % self.slots
        if support is None or support.numel() > self.width:
            self.tags[slot] = (version, ANY)
            return
        n = int(support.numel())
        self.indices[slot, :n].copy_(support)
        self.tags[slot] = (version, n)

    def changed(self, have: int, version: int) -> torch.Tensor | None:
        """Coordinates updates ``have + 1 .. version`` changed (repeats possible), or ``None``
        when they are not all known or number more than ``width``."""
        if not 0 <= version - have <= self.slots:
            return None
        parts, total = [], 0
        for v in range(have + 1, version + 1):
            tag, n = (int(x) for x in self.tags[v % self.slots])
            total += n
            if tag != v or n == ANY or total > self.width:
                return None
            parts.append(self.indices[v % self.slots, :n])
        return torch.cat(parts).long() if parts else self.indices[0, :0].long()  # index_copy_ takes int64


class PulledCopy:
    """A learner's record of which version of each shard its buffer holds."""

    def __init__(self, shards: int, logs: list[ChangeLog]) -> None:
        self.logs = logs
        """One per shard, or none: every pull is a full copy."""
        self.have: list[tuple[int, int] | None] = [None] * shards
        """Per shard: (epoch, version) the buffer holds."""
        self.buffer = 0
        """Address of the buffer the versions describe (another buffer starts over)."""
        self.partial = 0
        """Shard pulls that copied only the changed coordinates."""

    def refresh(self, s: int, dst: torch.Tensor, src: torch.Tensor, version: int, buffer: int) -> None:
        """Make ``dst`` (shard ``s`` of the learner's buffer) equal ``src`` at ``version``
        (under the shard's lock), by the changed coordinates when they are known."""
        if buffer != self.buffer:
            self.have = [None] * len(self.have)
            self.buffer = buffer
        epoch = int(self.logs[s].epoch[0]) if self.logs else 0
        have = self.have[s]
        idx = None
        if have is not None and self.logs and have[0] == epoch:
            idx = self.logs[s].changed(have[1], version)
        if idx is None:
            dst.copy_(src)
        else:
            dst.index_copy_(0, idx, src.index_select(0, idx))
            self.partial += 1
        self.have[s] = (epoch, version)
