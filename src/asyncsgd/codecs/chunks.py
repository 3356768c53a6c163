"""Cache-sized passes: multi-step elementwise pipelines run chunk by chunk so that their
temporaries stay in cache and the input is read from memory once (numpy runs each step as a
separate pass, and a fresh vector-sized temporary costs page faults on every call)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK = 1 << 16  # float32 elements: 256 KiB, about the size of a core's L2 cache


def spans(n: int, chunk: int = CHUNK) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, chunk):
        yield lo, min(n, lo + chunk)


def abs_sum(x: np.ndarray) -> float:
    """``‖x‖₁`` in one pass over memory (float64 accumulation across chunks)."""
    scratch = np.empty(min(CHUNK, x.size), dtype=np.float32)
    total = 0.0
    for lo, hi in spans(x.size):
        part = scratch[: hi - lo]
        np.abs(x[lo:hi], out=part)
        total += float(part.sum())
    return total
