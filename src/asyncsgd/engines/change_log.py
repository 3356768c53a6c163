"""Which coordinates each recent update of a shard changed, so that a pull can send or copy only those.

A learner keeps what it pulled last. If shard s went from version u to v since, and each of the
updates u+1, ..., v changed only the coordinates its push carried (a sparse push under a rule that
keeps to them, ``ServerRule.in_support``), then the shard's values at the union of those
coordinates bring the learner's copy to exactly version v: the same bits a full pull gives, for a
fraction of its traffic. Engines decide when that pays (``local``: a copy out of shared memory;
``ray``: a reply small enough to skip the object store) through the log's ``width``.

The log keeps the index sets of a shard's last ``slots`` updates. An update that changed any other
parameter (a dense push, a rule such as momentum that moves every coordinate), a gap longer than
the log, or more changes than ``width`` in all means a full pull. So does a moved ``epoch``: an
engine moves it when the log may have missed a change.
"""

from __future__ import annotations

import numpy as np
import torch

from asyncsgd.codecs.base import Codec
from asyncsgd.rules.base import ServerRule

ANY = -1
"""Count of an update that may have changed every coordinate."""


def sparse_updates(codec: Codec, rule: ServerRule) -> bool:
    """Whether an update can change only its push's coordinates (a log can then know them)."""
    return codec.caps.sparse and rule.in_support


class ChangeLog:
    """The index sets of one shard's last ``slots`` updates, over the caller's arrays.

    ``tags`` is ``(slots + 1, 2)`` int64 (the last row holds the epoch) and ``indices`` is
    ``(slots, width)`` int32, both zeroed: shared memory for the ``local`` engine, private arrays
    (:meth:`private`) for a ``ray`` shard."""

    def __init__(self, tags: np.ndarray, indices: torch.Tensor) -> None:
        self.tags = tags[:-1]
        """``tags[v % slots] = (v, count)``: update v changed ``count`` coordinates (ANY: unknown)."""
        self.epoch = tags[-1]
        """``epoch[0]`` moves on when the log may have missed a change (a full pull is due)."""
        self.indices = indices
        self.slots, self.width = indices.shape

    @classmethod
    def private(cls, slots: int, width: int) -> ChangeLog:
        return cls(np.zeros((slots + 1, 2), np.int64), torch.zeros(slots, width, dtype=torch.int32))

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

    def narrow(self, version: int) -> bool:
        """Whether update ``version`` is logged with its coordinates (not too many, not unknown):
        otherwise no answer with changes only can include it."""
        tag, n = (int(x) for x in self.tags[version % self.slots])
        return tag == version and n != ANY

    def count(self, have: int, version: int) -> int | None:
        """How many coordinates updates ``have + 1 .. version`` changed (repeats counted), or
        ``None`` when they are not all known or number more than ``width``."""
        if not 0 <= version - have <= self.slots:
            return None
        total = 0
        for v in range(have + 1, version + 1):
            tag, n = (int(x) for x in self.tags[v % self.slots])
            total += n
            if tag != v or n == ANY or total > self.width:
                return None
        return total

    def changed(self, have: int, version: int) -> torch.Tensor | None:
        """Coordinates (int32) updates ``have + 1 .. version`` changed (repeats possible), or
        ``None`` when :meth:`count` does not know them."""
        if self.count(have, version) is None:
            return None
        parts = [
            self.indices[v % self.slots, : int(self.tags[v % self.slots][1])]
            for v in range(have + 1, version + 1)
        ]
        return torch.cat(parts) if parts else self.indices[0, :0].clone()
