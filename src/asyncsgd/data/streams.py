"""Which training samples each learner's next mini-batch holds.

``disjoint``: the training set is shuffled once (from the run seed) and cut into ``p`` shards,
one per learner; each learner walks its shard in a fresh random order every pass. ``shared``: one
shuffled stream over the whole training set, consumed by whichever learner asks next (the order
of requests is the engine's schedule, so it is deterministic in the simulator).
"""

from __future__ import annotations

import numpy as np
import torch

PARTITIONS = ("disjoint", "shared")


class IndexStream:
    """An endless stream of indices: successive random permutations of ``pool``."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator) -> None:
        self.pool = pool
        self.rng = rng
        self._order = rng.permutation(pool)
        self._pos = 0
        self.passes = 0

    def take(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int64)
        filled = 0
        while filled < n:
            if self._pos == self._order.size:
                self._order = self.rng.permutation(self.pool)
                self._pos = 0
                self.passes += 1
            m = min(n - filled, self._order.size - self._pos)
            out[filled : filled + m] = self._order[self._pos : self._pos + m]
            self._pos += m
            filled += m
        return out


class BatchStreams:
    def __init__(self, n_train: int, batch_size: int, num_learners: int, partition: str, seed: int) -> None:
        if partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
        self.batch_size = batch_size
        self.partition = partition
        root = np.random.SeedSequence([seed, 0xDA7A])
        if partition == "shared":
            rng = np.random.Generator(np.random.PCG64(root))
            self._streams = [IndexStream(np.arange(n_train), rng)]
        else:
            order = np.random.Generator(np.random.PCG64(root)).permutation(n_train)
            shards = np.array_split(order, num_learners)
            smallest = min(s.size for s in shards)
            if batch_size > smallest:
                raise ValueError(
                    f"batch_size {batch_size} exceeds the {smallest} training samples of the "
                    f"smallest of {num_learners} disjoint shards"
                )
            children = root.spawn(num_learners)
            self._streams = [
                IndexStream(np.sort(s), np.random.Generator(np.random.PCG64(c)))
                for s, c in zip(shards, children, strict=True)
            ]

    def next(self, learner: int) -> np.ndarray:
        stream = self._streams[0] if self.partition == "shared" else self._streams[learner]
        return stream.take(self.batch_size)

    def state(self) -> list[dict]:
        """Each stream's position as plain values (the current order as an int64 tensor), so a
        checkpoint holds no numpy objects and loads without unpickling code."""
        return [
            {
                "order": torch.from_numpy(s._order.astype(np.int64)),
                "pos": int(s._pos),
                "passes": int(s.passes),
                "rng": s.rng.bit_generator.state,
            }
            for s in self._streams
        ]

    def load_state(self, states: list[dict]) -> None:
        for s, st in zip(self._streams, states, strict=True):
            s._order = torch.as_tensor(st["order"], dtype=torch.int64).numpy().copy()
            s._pos, s.passes = int(st["pos"]), int(st["passes"])
            s.rng.bit_generator.state = st["rng"]
