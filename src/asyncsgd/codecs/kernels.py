"""Loops for :mod:`asyncsgd.codecs.selection` that numba compiles, when it is installed.

numpy cannot fuse "compare, then collect the positions that passed": it writes a mask, then scans
it, in several passes. These loops read each float once. Every 64 elements, the comparison
``key_i ≥ t`` of the magnitude keys becomes one 64-bit word (a loop the compiler vectorises); a
word with bits set yields its positions lowest first (``w & (w - 1)`` clears the lowest, a de
Bruijn multiply finds it), so the cost per element is the comparison alone when hits are rare,
which is when top-k runs: about 1–2% of the elements pass the sampled threshold.

Importing this module imports neither numba nor compiles anything: :func:`compiled` does, on the
first selection that asks for it, in the process that runs it (about 1.4 s of CPU for both
loops). The machine code is cached on disk only where the user named a directory in
``NUMBA_CACHE_DIR`` (a later process then loads it in about half that time); numba's own choice
would be beside this file or in the home directory, and a codec writes no files of its own accord.
The loops start no threads: how many processes run them is the engines' decision.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import SimpleNamespace

import numpy as np

_SIGN_CLEAR = np.int32(0x7FFFFFFF)
_ONE = np.uint64(1)
_DE_BRUIJN = 0x03F79D71B4CB0A89  # every 6-bit window of it is distinct
_DEBRUIJN = np.uint64(_DE_BRUIJN)
_SHIFT = np.uint64(58)
_LOWEST_BIT = np.zeros(64, dtype=np.uint8)
for _i in range(64):  # the position of a lone set bit from the top 6 bits of its de Bruijn product
    _LOWEST_BIT[((_DE_BRUIJN << _i) & 0xFFFFFFFFFFFFFFFF) >> 58] = _i
WORD = 64


def scan(bits: np.ndarray, key: np.int32, idx: np.ndarray, keys: np.ndarray, eager: int = 0) -> int:
    """Ascending positions (into ``idx``) and keys (into ``keys``) of the int32 float bits whose
    magnitude key is ``≥ key``; their count, or -1 when they would overflow the buffers.

    ``eager``: positions taken from every word without a branch before the loop takes the rest.
    Where about one element in a hundred passes, most words hold a hit or two and the loop's exit
    is mispredicted at nearly every word; two branch-free takes (a word without hits writes a slot
    it does not count) save most of those mispredictions. Where hits are rarer they cost more than
    the branch they save, and where they are denser the loop still runs, so the caller asks for
    them from the density it expects (``selection.EAGER_DENSITIES``)."""
    n = bits.size
    room = idx.size - WORD
    count = 0
    full = n - n % WORD
    for start in range(0, full, WORD):
        if count > room:
            return -1
        word = np.uint64(0)
        for j in range(WORD):
            word |= np.uint64((bits[start + j] & _SIGN_CLEAR) >= key) << np.uint64(j)
        for _ in range(eager):
            at = start + _LOWEST_BIT[((word & (~word + _ONE)) * _DEBRUIJN) >> _SHIFT]
            idx[count] = at
            keys[count] = bits[at] & _SIGN_CLEAR
            count += word != 0
            word &= word - _ONE
        while word:
            at = start + _LOWEST_BIT[((word & (~word + _ONE)) * _DEBRUIJN) >> _SHIFT]
            idx[count] = at
            keys[count] = bits[at] & _SIGN_CLEAR
            count += 1
            word &= word - _ONE
    if count + n - full > idx.size:
        return -1
    for at in range(full, n):
        m = bits[at] & _SIGN_CLEAR
        if m >= key:
            idx[count] = at
            keys[count] = m
            count += 1
    return count


def keep(idx: np.ndarray, keys: np.ndarray, kth: np.int32, k: int) -> np.ndarray:
    """The ``k`` of ``idx`` whose ``keys`` are above ``kth``, then the earliest at ``kth``.

    Branch-free (every position is written, the count advances by whether it is kept): about
    two thirds of the candidates are kept, too many for a branch to predict."""
    above = 0
    for i in range(keys.size):
        above += keys[i] > kth
    ties = k - above
    out = np.empty(k + 1, dtype=np.int64)
    o = 0
    for i in range(keys.size):
        m = keys[i]
        tie = m == kth
        take = (m > kth) | (tie & (ties > 0))
        ties -= tie
        out[o] = idx[i]
        o += take
        if o == k:
            break
    return out[:k]


@cache
def compiled() -> SimpleNamespace | None:
    """``scan``, ``keep`` and ``WORD``, compiled lazily by numba; None without a working numba."""
    try:
        import numba  # optional, and costly to import: only when a selection asks for it
    except ImportError:  # absent, or built for another numpy: the numpy path gives the same indices
        return None
    cached = bool(numba.config.CACHE_DIR)

    def jit(fn: Callable) -> Callable:
        try:
            return numba.njit(nogil=True, boundscheck=False, cache=cached)(fn)
        except RuntimeError:  # the named cache directory is not writable: compile in every process
            return numba.njit(nogil=True, boundscheck=False)(fn)

    return SimpleNamespace(scan=jit(scan), keep=jit(keep), WORD=WORD)
