"""Rows of coordinates that share one scale (a norm, a mean magnitude, a clipping bound).

A codec's *groups* are the whole vector or each layer (``scope``); QSGD further cuts each group into
*buckets* of ``bucket`` consecutive coordinates. Each group is held as at most two :class:`Block`
views: a ``(rows, width)`` matrix of full buckets and a one-row tail, so a per-bucket reduction or
rescale is one broadcast numpy call per block instead of a loop over buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    start: int
    rows: int
    width: int

    @property
    def stop(self) -> int:
        return self.start + self.rows * self.width


class Blocks:
    """The row structure of a vector: one scale per row, rows in vector order."""

    def __init__(self, ranges: list[tuple[int, int]], bucket: int = 0) -> None:
        blocks: list[Block] = []
        for start, stop in ranges:
            n = stop - start
            if bucket <= 0 or bucket >= n:
                blocks.append(Block(start, 1, n))
                continue
            full = n // bucket
            blocks.append(Block(start, full, bucket))
            if n % bucket:
                blocks.append(Block(start + full * bucket, 1, n % bucket))
        self.blocks = tuple(blocks)
        self.rows = sum(b.rows for b in blocks)
        self.widest = max(b.width for b in blocks)

    def views(self, x: np.ndarray) -> Iterator[tuple[int, Block, np.ndarray]]:
        """``(index of its first row, block, (rows, width) view of x)`` for every block."""
        row = 0
        for b in self.blocks:
            yield row, b, x[b.start : b.stop].reshape(b.rows, b.width)
            row += b.rows
