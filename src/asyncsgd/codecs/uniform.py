"""Uniform random numbers for stochastic codecs, drawn from a push's seed at memory speed.

``numpy``'s ``Generator.random`` spends about as long converting as generating; here the raw 64-bit
output of a private SFC64 stream (the fastest of numpy's generators) is split into two 32-bit
words, whose top bits become the mantissa of a float32 with a fixed exponent: a uniform on
``[2^e, 2^e + 1)`` costs two integer passes. The ``23 − e`` random bits are exactly the resolution
float32 has on that interval, so adding such a uniform to a value below ``2^e`` in magnitude and
flooring is stochastic rounding with no bias beyond float32's own.
"""

from __future__ import annotations

import numpy as np

MANTISSA = 23


def generator(seed: int) -> np.random.SFC64:
    """The bit generator of one push: a pure function of its seed."""
    return np.random.SFC64(seed)


def uniform_above(bits: np.random.BitGenerator, n: int, exponent: int, out: np.ndarray) -> np.ndarray:
    """``n`` float32 uniforms on ``[2^exponent, 2^exponent + 1)``, written into float32 ``out[:n]``."""
    raw = bits.random_raw(-(-n // 2)).view(np.uint32)[:n]
    words = out[:n].view(np.uint32)
    np.right_shift(raw, np.uint32(32 - MANTISSA + exponent), out=words)
    np.bitwise_or(words, np.uint32((127 + exponent) << MANTISSA), out=words)
    return out[:n]
