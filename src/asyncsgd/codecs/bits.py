"""Bit-level wire formats: sign bits, and small integer codes packed ``w`` bits per coordinate.

A sign costs one bit (``numpy.packbits``, little bit order). A signed level ``c ∈ [−L, L]``
travels as the unsigned code ``c + L`` ("excess-L") in the smallest width ``w ∈ {2, 4, 8, 16}``
with ``2L + 1 ≤ 2^w``, so ``8/w`` codes share a byte (``w = 2``: ternary values, ``w = 4``: up to
±7). Widths are powers of two so that packing and unpacking are a few whole-array shifts on
machine words, never a per-element loop.
"""

from __future__ import annotations

import numpy as np

from asyncsgd.codecs.chunks import CHUNK

WIDTHS = (2, 4, 8, 16)


def code_width(levels: int) -> int:
    """Smallest width in :data:`WIDTHS` that holds the ``2·levels + 1`` codes ``0 … 2·levels``."""
    for width in WIDTHS:
        if 2 * levels + 1 <= 2**width:
            return width
    raise ValueError(f"levels must be <= {2**15 - 1}, got {levels}")


def code_dtype(width: int) -> type[np.unsignedinteger]:
    return np.uint8 if width <= 8 else np.uint16


def packed_nbytes(n: int, width: int) -> int:
    """Bytes of ``n`` codes of ``width`` bits (the last byte padded with zeros)."""
    return -(-n * width // 8)


def unpack_bits_range(packed: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Bits ``lo … hi−1`` of ``packed`` as uint8 zeros and ones (a short, cache-sized range)."""
    first = lo // 8
    b = np.unpackbits(packed[first : -(-hi // 8)], bitorder="little")
    return b[lo - 8 * first : hi - 8 * first]


def expand_bits(packed: np.ndarray, lo: int, hi: int, clear: float, set_: float, out: np.ndarray) -> None:
    """``out[i − lo] = set_ if bit i else clear`` for ``lo ≤ i < hi``, in cache-sized chunks.

    Computed as ``clear + bit·(set_ − clear)``: exact for ``clear``, and for ``set_ = −clear``.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # a non-finite scale decodes to NaN/Inf
        step, diff = np.float32(set_ - clear), np.float32(clear)
        for a in range(lo, hi, CHUNK):
            b = min(hi, a + CHUNK)
            dst = out[a - lo : b - lo]
            np.copyto(dst, unpack_bits_range(packed, a, b))  # widen first: mixed-type multiplies are slow
            dst *= step
            dst += diff


def padded_length(n: int, width: int) -> int:
    """Codes to allocate for ``n`` so that whole bytes are packed (the tail holds zeros)."""
    per = max(1, 8 // width)
    return -(-n // per) * per


def pack_codes(codes: np.ndarray, width: int) -> np.ndarray:
    """Unsigned ``codes < 2**width`` (uint8, or uint16 for ``width = 16``) packed into uint8.

    ``codes`` must hold :func:`padded_length` elements. Code ``j`` of each byte lands at bit
    ``j·w``: viewing ``8/w`` codes as one little-endian word, code ``j`` sits at bit ``8j`` and a
    right shift by ``j·(8 − w)`` moves it into place; what else the shifts move falls outside the
    low byte, which the cast to uint8 keeps. Chunk by chunk, in cache.
    """
    if width >= 8:
        return codes.astype("<u2" if width == 16 else np.uint8, copy=False).view(np.uint8).copy()
    per, word = 8 // width, _WORDS[8 // width]
    words = codes.view(word)
    out = np.empty(words.size, dtype=np.uint8)
    acc = np.empty(min(CHUNK, words.size), dtype=word)
    tmp = np.empty_like(acc)
    for lo in range(0, words.size, CHUNK):
        v = words[lo : lo + CHUNK]
        a, t = acc[: v.size], tmp[: v.size]
        np.copyto(a, v)
        for j in range(1, per):
            np.right_shift(v, word(j * (8 - width)), out=t)
            a |= t
        np.copyto(out[lo : lo + v.size], a, casting="unsafe")
    return out


def unpack_codes(packed: np.ndarray, width: int, n: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: the first ``n`` codes (uint8, or uint16 for ``width = 16``)."""
    if width == 16:
        return packed.view("<u2")[:n]
    if width == 8:
        return packed[:n]
    per = 8 // width
    word = _WORDS[per]
    v = packed.astype(word)
    acc = v.copy()
    for j in range(1, per):
        acc |= v << word(j * (8 - width))
    acc &= _MASKS[width]
    return acc.view(np.uint8)[:n]


def unpack_codes_range(packed: np.ndarray, width: int, lo: int, hi: int) -> np.ndarray:
    """Codes ``lo … hi−1`` of ``packed`` (a short, cache-sized range), as :func:`unpack_codes`."""
    if width >= 8:
        return unpack_codes(packed, width, hi)[lo:hi]
    per = 8 // width
    first, last = lo // per, -(-hi // per)
    codes = unpack_codes(packed[first:last], width, (last - first) * per)
    return codes[lo - per * first : hi - per * first]


_WORDS = {2: np.uint16, 4: np.uint32}
_MASKS = {4: np.uint16(0x0F0F), 2: np.uint32(0x03030303)}
