"""Cache-sized passes: multi-step elementwise pipelines run chunk by chunk so that their
temporaries stay in cache and the input is read from memory once (numpy runs each step as a
separate pass, and a fresh vector-sized temporary costs page faults on every call)."""

from __future__ import annotations

import bisect
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


def overlaps(starts: list[int], stops: list[int], lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
    """``(group, a, b)`` for every group ``[starts[g], stops[g])`` meeting ``[lo, hi)``, clipped to it."""
    g = max(0, bisect.bisect_right(starts, lo) - 1)
    while g < len(starts) and starts[g] < hi:
        a, b = max(lo, starts[g]), min(hi, stops[g])
        if a < b:
            yield g, a, b
        g += 1


def signs_and_sums(
    x: np.ndarray, ranges: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One read of ``x``: its sign bits packed (set for negative, ``−0.0`` included), and per group
    ``Σx``, ``Σ|x|`` (float64) and the number of negative signs."""
    starts, stops = [a for a, _ in ranges], [b for _, b in ranges]
    packed = np.empty(-(-x.size // 8), dtype=np.uint8)
    total, absolute = np.zeros(len(ranges)), np.zeros(len(ranges))
    negatives = np.zeros(len(ranges), dtype=np.int64)
    neg = np.empty(min(CHUNK, x.size), dtype=bool)
    mag = np.empty(min(CHUNK, x.size), dtype=np.float32)
    for lo, hi in spans(x.size):  # CHUNK is a multiple of 8: every chunk starts on a byte
        part, n, m = x[lo:hi], neg[: hi - lo], mag[: hi - lo]
        np.signbit(part, out=n)
        packed[lo // 8 : -(-hi // 8)] = np.packbits(n, bitorder="little")
        np.abs(part, out=m)
        for g, a, b in overlaps(starts, stops, lo, hi):
            total[g] += float(part[a - lo : b - lo].sum())
            absolute[g] += float(m[a - lo : b - lo].sum())
            negatives[g] += int(np.count_nonzero(n[a - lo : b - lo]))
    return packed, total, absolute, negatives
