"""Uniform random numbers for stochastic codecs, drawn from a push's seed at memory speed.

``numpy``'s ``Generator.random`` spends about as long converting as generating; here the raw 64-bit
output of a private SFC64 stream (the fastest of numpy's generators) is split into two 32-bit
words, and the top 23 bits of each become the mantissa of a float32 in ``[1, 2)`` (exponent bits
of 1.0). Every value ``1 + m·2⁻²³`` with
``m ∈ [0, 2²³)`` is equally likely, which is the resolution of a float32 uniform on ``[0, 1)``.
"""

from __future__ import annotations

import numpy as np

_ONE = np.uint32(0x3F800000)
_SHIFT = np.uint32(9)


def generator(seed: int) -> np.random.SFC64:
    """The bit generator of one push: a pure function of its seed."""
    return np.random.SFC64(seed)


def uniform_1_2(bits: np.random.BitGenerator, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """``n`` float32 uniforms on ``[1, 2)`` (into ``out`` if given) from the next bits of ``bits``."""
    raw = bits.random_raw(-(-n // 2)).view(np.uint32)[:n]
    words = out.view(np.uint32) if out is not None else np.empty(n, dtype=np.uint32)
    np.right_shift(raw, _SHIFT, out=words)
    np.bitwise_or(words, _ONE, out=words)
    return words.view(np.float32)
