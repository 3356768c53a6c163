"""Pulls of the ``local`` engine that copy only the coordinates changed since the learner's last pull.

A learner keeps what it pulled last in its model's buffer, which its passes read and never
write; when every update since changed only its push's coordinates, copying those out of the
shard brings the buffer to the shard's version, bit for bit (the log and why it is exact:
:mod:`asyncsgd.engines.change_log`).

It pays only while the changes are few: copying a scattered coordinate costs 20 to 27 ns here
(a cache miss), a contiguous one about 0.4 ns (10^7 float32: 2.0 to 2.7 ms to gather and scatter
10^5 coordinates, 3.65 to 3.9 ms to copy all of them; ``python -m benchmarks.pull_changes``). So the
changes since a learner's last pull are copied one by one only when they number at most 1/64 of
the shard (``width``), and only in shards of at least ``MIN_SHARD`` parameters, below which the
fixed cost of the bookkeeping exceeds that of a full copy. That is one top-1% push, or up to 15
top-0.1% pushes, between two pulls.

When the changes are too many, the log still makes the full copy cheaper for everyone else: it
is made without the shard's lock, and what updates changed during it is copied again under the
lock (:meth:`PulledCopy.hold`), so no learner waits for a copy of the whole shard to push.

Each shard keeps the index sets of its last ``SLOTS`` updates in the arena, written under the
shard's lock by whoever applied the update and read under it by whoever pulls. Besides what the
log cannot vouch for (see there), a lock taken over from a learner that died holding it means a
full copy (its update may be half applied and unlogged): the shard's ``epoch`` moves on, and
every learner's next pull of it is a full copy.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from asyncsgd.core.server import ParameterServer
from asyncsgd.engines.change_log import ChangeLog, sparse_updates

SLOTS = 16
WIDTH_DIVISOR = 64
"""Changes are copied one by one while they number at most 1/64 of the shard."""
MIN_SHARD = 2**20


def change_log_shape(server: ParameterServer, shard_size: int) -> tuple[int, int]:
    """(slots, width) of each shard's log: (0, 0) when every pull should be a full copy (no update
    can be sparse under this codec and rule, or the shard is too small to gain)."""
    if shard_size < MIN_SHARD or not sparse_updates(server.codec, server.rule):
        return 0, 0
    return SLOTS, shard_size // WIDTH_DIVISOR


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
        write = self.read(s, dst, src, version, buffer)
        if write is not None:
            write()

    def _held(self, s: int, buffer: int) -> tuple[int, int] | None:
        if buffer != self.buffer:
            self.have = [None] * len(self.have)
            self.buffer = buffer
        return self.have[s]

    def _epoch(self, s: int) -> int:
        return int(self.logs[s].epoch[0]) if self.logs else 0

    def stamp(self, s: int, version: int, buffer: int) -> tuple[int, int] | None:
        """Under the shard's lock: (epoch, version) of shard ``s`` when a pull at ``version`` into
        ``buffer`` would copy it whole and a log can repair a copy made without the lock (see
        :meth:`hold`); ``None`` when the pull needs no whole copy or no log can repair one."""
        if not self.logs:
            return None
        have, epoch = self._held(s, buffer), self._epoch(s)
        if have is not None and have[0] == epoch and self.logs[s].count(have[1], version) is not None:
            return None
        return epoch, version

    def hold(self, s: int, stamp: tuple[int, int], buffer: int) -> None:
        """Record that shard ``s`` of ``buffer`` was copied whole, without the lock, after
        :meth:`stamp` read ``stamp`` under it.

        Updates may have landed during the copy, so some coordinates may hold any mix of values;
        but only the coordinates those updates changed, and every one of them is numbered after
        ``stamp``'s version: no update runs while the stamp is read under the lock, so each that
        the copy may have seen in part took the lock after it. So the buffer holds that version
        but for the coordinates of later updates, which is what the next :meth:`read` repairs
        from the log, or copies all over when the log cannot tell (or a dead learner's lock was
        taken over meanwhile: the epoch moved on)."""
        self._held(s, buffer)
        self.have[s] = stamp

    def read(
        self, s: int, dst: torch.Tensor, src: torch.Tensor, version: int, buffer: int
    ) -> Callable[[], None] | None:
        """What :meth:`refresh` must do under the shard's lock: a whole copy, or a gather of the
        changed values, returned with the scatter into ``dst`` still to do; ``dst`` is the
        learner's own, so that half runs after the lock is released, where it delays no one."""
        have = self._held(s, buffer)
        epoch = self._epoch(s)
        idx = None
        if have is not None and self.logs and have[0] == epoch:
            idx = self.logs[s].changed(have[1], version)
        self.have[s] = (epoch, version)
        if idx is None:
            dst.copy_(src)
            return None
        self.partial += 1
        idx = idx.long()  # index_copy_ takes int64 (and the log may change once the lock is released)
        values = src.index_select(0, idx)
        return lambda: dst.index_copy_(0, idx, values)
