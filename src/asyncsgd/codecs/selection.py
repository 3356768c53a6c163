"""Exact top-k selection by magnitude, faster than a full partial sort.

``torch.topk`` and ``numpy.argpartition`` both reorder all ``n`` values to find ``k`` of them; on
a 2-core CPU they scan 0.1–1 GB/s, so at 10^7 parameters selection costs more than the gradient
update itself. :class:`TopKSelector` instead

1. orders magnitudes by integer keys: clearing the sign bit of an IEEE float32 gives an int32
   whose order is the order of ``|x|`` (with ``inf`` and ``NaN`` above every finite value, so a
   non-finite gradient is always selected and then rejected by the server, never hidden);
2. estimates a threshold ``t`` a little below the k-th largest magnitude from a strided sample
   (one ``np.partition`` of it, not a sort);
3. keeps the candidates in one pass over cache-sized chunks (about 1.5·k of them), together with
   their values read from the chunk while it is still in cache;
4. runs an exact partial sort on the candidates' keys only.

Step 3 compares the floats themselves, ``not (-t < x < t)``: two comparisons that are false for a
NaN, so a NaN stays a candidate with no separate pass to clear sign bits or find NaNs. For a finite,
normal ``t`` this is exactly ``key ≥ key(t)`` (also when denormals are flushed to zero); a zero,
subnormal or non-finite threshold is compared on the integer keys instead.

If fewer than ``k`` candidates pass (the sample was unlucky) the threshold is lowered and step 3
repeats, so the result is always exact: the positions of the ``k`` largest keys, ties to the
earliest positions.

numpy runs step 3 as four passes over each chunk (two comparisons, their conjunction, the index
scan), at about a third of memory speed. With numba installed (the ``fast`` extra) steps 3 and 4
run as compiled loops (:mod:`asyncsgd.codecs.kernels`) that read each float once; the
indices are the same either way, only the time differs. numba is imported, and the kernels
compiled, on the first selection that needs them, not when asyncsgd is imported.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from asyncsgd.codecs import kernels as loops

SIGN_CLEAR = np.int32(0x7FFFFFFF)
_SMALL = 1 << 14  # below this a plain partial sort is as fast
_CHUNK = 1 << 18  # elements per pass: the chunk (1 MiB) and two masks (256 KiB each) stay in L2
_NORMAL_MIN = np.finfo(np.float32).smallest_normal
_INF_KEY = np.float32(np.inf).view(np.int32)
COMPILED_MIN = 1 << 19  # by default the kernels run from this size, where they repay compiling (~1 s)
EAGER_DENSITIES = (0.006, 0.04)
"""Expected shares of elements passing the threshold between which the compiled scan takes two hits
per word without a branch (``kernels.scan``'s ``eager``). ``python -m benchmarks.topk_selection``
times both modes (``scan_modes``): on the 2-core machine the benchmarks run on, the branch-free
takes lost at 0.3% of hits and below, gained from 0.7% to 3%, and lost again from 4%, where words
hold more hits than two takes cover."""


def magnitudes(x: np.ndarray) -> np.ndarray:
    """``|x|`` as order-preserving int32 keys (float32 bits with the sign cleared)."""
    return np.bitwise_and(x.view(np.int32), SIGN_CLEAR)


def magnitude_key(value: float) -> np.int32:
    """The :func:`magnitudes` key of ``|value|``: ``|x_i| ≥ |value|`` iff ``key_i ≥ magnitude_key(value)``."""
    return np.abs(np.float32(value)).view(np.int32)


def compiled_kernels() -> SimpleNamespace | None:
    """The compiled loops of :mod:`asyncsgd.codecs.kernels`, or None without numba."""
    return loops.compiled()


def _k_largest(keys: np.ndarray, k: int) -> np.ndarray:
    """Ascending positions of the ``k`` largest ``keys`` (ties: the earliest positions)."""
    kth = np.partition(keys, keys.size - k)[keys.size - k]
    keep = keys > kth
    short = k - int(np.count_nonzero(keep))
    if short:
        keep[np.flatnonzero(keys == kth)[:short]] = True
    return np.flatnonzero(keep)


class TopKSelector:
    """Reusable scratch buffers for :meth:`select`; one per codec instance (not thread-safe).

    The threshold is the magnitude ranked ``e + margin·√e + 4`` in a strided sample of ``sample``
    points, where ``e = k/n·sample`` points are expected above the k-th magnitude: ``margin``
    Poisson standard deviations below it, so a second pass is rare. The sample is small because each
    point is a cache miss; a looser threshold costs only a larger partial sort of the candidates.
    """

    def __init__(
        self, sample: int = 8192, margin: float = 4.0, chunk: int = _CHUNK, compiled: bool | None = None
    ) -> None:
        """``compiled``: True, use the numba kernels; False, numpy only; None, the kernels for vectors
        of at least ``COMPILED_MIN`` elements when numba is installed."""
        self.sample = sample
        self.margin = margin
        self.chunk = chunk
        self.compiled = compiled
        self._idx = np.empty(0, dtype=np.int64)
        self._keys = np.empty(0, dtype=np.int32)
        self._below = np.empty(chunk, dtype=bool)
        self._above = np.empty(chunk, dtype=bool)
        self._mag = np.empty(chunk, dtype=np.int32)

    def _scan(self, x: np.ndarray, key: np.int32) -> tuple[np.ndarray, np.ndarray]:
        """Ascending int64 indices and the values of the entries of ``x`` whose key is ``≥ key``."""
        limit = np.int32(key).view(np.float32)
        exact_floats = _NORMAL_MIN <= limit < np.inf
        parts, values = [], []
        for start in range(0, x.size, self.chunk):
            block = x[start : start + self.chunk]
            if exact_floats:
                below, above = self._below[: block.size], self._above[: block.size]
                np.less(block, limit, out=below)
                np.greater(block, -limit, out=above)
                np.logical_and(below, above, out=below)
                hits = np.flatnonzero(np.logical_not(below, out=below))
            else:
                mag, mask = self._mag[: block.size], self._below[: block.size]
                np.bitwise_and(block.view(np.int32), SIGN_CLEAR, out=mag)
                hits = np.flatnonzero(np.greater_equal(mag, key, out=mask))
            if hits.size:
                values.append(block[hits])
                parts.append(hits + start if start else hits)
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=x.dtype)
        return np.concatenate(parts), np.concatenate(values)

    def _kernels(self, n: int) -> SimpleNamespace | None:
        if self.compiled is False or (self.compiled is None and n < COMPILED_MIN):
            return None
        kernels = compiled_kernels()
        if kernels is None and self.compiled:
            raise RuntimeError("compiled top-k selection needs numba (pip install 'asyncsgd[fast]')")
        return kernels

    def _compiled_scan(
        self, kernels: SimpleNamespace, x: np.ndarray, key: np.int32, guess: int, density: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """What :meth:`_scan` finds, as positions and magnitude keys (views of scratch buffers);
        ``density``: the share of ``x`` expected to pass."""
        bits = x.view(np.int32)
        if self._idx.size < guess:
            self._idx, self._keys = np.empty(guess, np.int64), np.empty(guess, np.int32)
        eager = 2 if EAGER_DENSITIES[0] <= density < EAGER_DENSITIES[1] else 0
        count = kernels.scan(bits, key, self._idx, self._keys, eager)
        if count < 0:  # more passed than the buffers hold (ties at the threshold): room for all
            self._idx, self._keys = (
                np.empty(x.size + kernels.WORD, np.int64),
                np.empty(x.size + kernels.WORD, np.int32),
            )
            count = kernels.scan(bits, key, self._idx, self._keys, eager)
        return self._idx[:count], self._keys[:count]

    def at_least(self, x: np.ndarray, key: np.int32) -> np.ndarray:
        """Ascending int64 indices ``i`` of float32 ``x`` whose magnitude key is ``≥ key``
        (non-finite values pass every threshold)."""
        kernels = self._kernels(x.size) if x.size > _SMALL else None
        if kernels is not None:
            return self._compiled_scan(kernels, x, np.int32(key), 4096)[0].copy()
        return self._scan(x, key)[0]

    def _threshold(self, x: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """Sample keys of ``x`` and the rank in them (from the top) of the threshold to try first."""
        n = x.size
        sample = magnitudes(x[:: max(1, n // self.sample)])
        expected = k / n * sample.size
        want = min(sample.size, math.ceil(expected + self.margin * math.sqrt(expected) + 4))
        return sample, want

    def select(self, x: np.ndarray, k: int) -> np.ndarray:
        """Ascending int64 indices of ``k`` largest-magnitude entries of float32 vector ``x``."""
        n = x.size
        if x.dtype != np.float32:
            raise TypeError(f"top-k selection needs float32, got {x.dtype}")
        if k >= n:
            return np.arange(n, dtype=np.int64)
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        if n <= _SMALL or 4 * k >= n:
            return _k_largest(magnitudes(x), k)

        kernels = self._kernels(n)
        sample, want = self._threshold(x, k)
        while True:
            key = np.partition(sample, sample.size - want)[sample.size - want]
            if kernels is None:
                cand, values = self._scan(x, key)
            else:
                guess = 2 * (want * n // sample.size) + 4096
                cand, keys = self._compiled_scan(kernels, x, key, guess, want / sample.size)
            if cand.size >= k or want == sample.size:
                break
            want = min(sample.size, want * 4)
        if cand.size < k:  # the sample minimum is above the k-th largest: select exactly anyway
            return _k_largest(magnitudes(x), k)
        if kernels is not None:
            kth = np.partition(keys, keys.size - k)[keys.size - k] if cand.size > k else keys.min()
            return kernels.keep(cand, keys, kth, k)
        if cand.size == k:
            return cand
        return cand[_k_largest(magnitudes(values), k)]
