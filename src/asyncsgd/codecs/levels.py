"""Unbiased stochastic rounding to signed levels: the engine shared by QSGD and TernGrad.

Every row r of coordinates (a bucket, a layer, or the whole vector) has a scale ``S_r`` and is
quantised to ``L`` levels per sign::

    ℓ_i = clip(L·x_i / S_r, −L, L)
    ξ_i = ⌊ℓ_i + u_i⌋,  u_i ~ U[0, 1)        so  P(ξ_i = ⌈ℓ_i⌉) = ℓ_i − ⌊ℓ_i⌋  and  E[ξ_i] = ℓ_i
    decode: x̂_i = (S_r / L) · ξ_i

Rounding the signed value is the same distribution as rounding ``|ℓ_i|`` and restoring the sign
(QSGD's formulation), and needs no sign pass. When the scale bounds ``|x_i|`` (QSGD's norm,
TernGrad's maximum) the clip never binds and the code is unbiased up to float32 rounding: the
sum ``ℓ + U`` with ``U ∈ [2^e, 2^e + 1)``, ``2^e ≥ L``, is computed in float32, and the uniforms
carry every bit float32 resolves there (see :mod:`uniform`). The levels travel bit-packed as
``ξ + L`` (see :mod:`bits`), with one float32 per row: the level spacing ``S_r/L``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator

import numpy as np
import torch

from asyncsgd.codecs import bits, uniform
from asyncsgd.codecs.base import ArraySpec, Codec, check_int, scope_ranges
from asyncsgd.codecs.blocks import Blocks
from asyncsgd.codecs.chunks import CHUNK, spans
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update

MAX_LEVELS = 2**15 - 1


class LevelQuantizer(Codec):
    """Base of the stochastic level quantizers; subclasses choose each row's scale ``S_r``."""

    def __init__(self, layout: FlatLayout, levels: int, scope: str = "global", bucket: int = 0) -> None:
        super().__init__(layout)
        self.levels = check_int("levels", levels, 1, MAX_LEVELS)
        bucket = check_int("bucket", bucket, 0)
        self.blocks = Blocks(scope_ranges(layout, scope), bucket)
        self.width = bits.code_width(self.levels)
        self._exponent = max(0, (self.levels - 1).bit_length())  # 2^e ≥ L
        self._dtype = bits.code_dtype(self.width)
        self._spec = {
            "codes": ArraySpec(torch.uint8, bits.packed_nbytes(self.size, self.width)),
            "scales": ArraySpec(torch.float32, self.blocks.rows),
        }

    @abstractmethod
    def row_scales(self, rows: np.ndarray) -> tuple[np.ndarray, bool]:
        """``S_r`` (float64) of every row of the ``(rows, width)`` matrix ``rows``, and whether some
        ``|x_i|`` exceeds its row's scale (TernGrad's clipping binds; QSGD's norm never does)."""

    def pieces(self, x: np.ndarray) -> Iterator[tuple[int, int, np.ndarray, slice]]:
        """Cache-sized pieces of the row structure: ``(first row, rows, piece, flat slice)``.

        Narrow rows (buckets) come a few hundred at a time, so a bucket's norm and its codes are
        computed while it is in cache; a row wider than a chunk is cut into column chunks (its
        scale is computed from the whole row first).
        """
        for row0, block, view in self.blocks.views(x):
            if block.width <= CHUNK:
                step = CHUNK // block.width
                for r in range(0, block.rows, step):
                    part = view[r : r + step]
                    lo = block.start + r * block.width
                    yield row0 + r, part.shape[0], part, slice(lo, lo + part.size)
            else:
                for lo, hi in spans(block.width):
                    yield row0, 1, view[:, lo:hi], slice(block.start + lo, block.start + hi)

    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        xn = x.detach().numpy()
        L, e = self.levels, self._exponent
        low, high = self._dtype(2**e - L), self._dtype(2**e + L)
        spacing = np.empty(self.blocks.rows, dtype=np.float32)
        inverse = np.empty(self.blocks.rows, dtype=np.float32)
        clipped = np.zeros(self.blocks.rows, dtype=bool)
        known = np.zeros(self.blocks.rows, dtype=bool)
        codes = np.empty(bits.padded_length(self.size, self.width), dtype=self._dtype)
        codes[self.size :] = 0
        rng = uniform.generator(seed)
        y, noise = np.empty(CHUNK, dtype=np.float32), np.empty(CHUNK, dtype=np.float32)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for row0, block, view in self.blocks.views(xn):
                if block.width > CHUNK:  # a wide row: its scale needs the whole row first
                    self._set_scales(view, row0, spacing, inverse, clipped)
                    known[row0] = True
            for row0, rows, part, flat in self.pieces(xn):
                if not known[row0]:  # narrow rows: their scales, while they are in cache
                    self._set_scales(part, row0, spacing, inverse, clipped)
                n = part.size
                yp = y[:n].reshape(part.shape)
                np.multiply(part, inverse[row0 : row0 + rows, None], out=yp)
                if clipped[row0 : row0 + rows].any():
                    np.clip(yp, np.float32(-L), np.float32(L), out=yp)
                # ℓ + U with U ∈ [2^e, 2^e + 1) and 2^e ≥ L is ℓ + 2^e + u ≥ 0: the cast floors it
                yp += uniform.uniform_above(rng, n, e, noise).reshape(part.shape)
                c = codes[flat]
                np.copyto(c, y[:n], casting="unsafe")
                np.clip(c, low, high, out=c)  # ℓ = L with u → 1 may round up to 2^e + L + 1
                c -= low  # the excess-L code ξ + L
        packed = bits.pack_codes(codes, self.width)
        return Payload(self.name, {"codes": torch.from_numpy(packed), "scales": torch.from_numpy(spacing)})

    def _set_scales(
        self, rows: np.ndarray, row0: int, spacing: np.ndarray, inverse: np.ndarray, clipped: np.ndarray
    ) -> None:
        scale, clips = self.row_scales(rows)
        end = row0 + rows.shape[0]
        spacing[row0:end] = scale / self.levels
        inverse[row0:end] = np.where(scale > 0, self.levels / scale, 0.0)
        clipped[row0:end] = clips

    def decode(self, payload: Payload) -> Update:
        packed = payload.arrays["codes"].numpy()
        spacing = payload.arrays["scales"].numpy()
        out = np.empty(self.size, dtype=np.float32)
        signed = np.int8 if self._dtype is np.uint8 else np.int16
        level = np.empty(min(CHUNK, self.size), dtype=signed)
        with np.errstate(invalid="ignore", over="ignore"):  # a non-finite scale decodes to NaN/Inf
            for row0, rows, part, flat in self.pieces(out):
                codes = bits.unpack_codes_range(packed, self.width, flat.start, flat.stop).view(signed)
                xi = level[: codes.size].reshape(part.shape)
                np.subtract(codes.reshape(part.shape), signed(self.levels), out=xi)  # excess-L back to ξ
                np.copyto(part, xi)  # widening first: a mixed int × float multiply is twice as slow
                np.multiply(part, spacing[row0 : row0 + rows, None], out=part)
        return Update(torch.from_numpy(out), self.size)

    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        return self._spec

    def estimate_nbytes(self) -> int:
        return bits.packed_nbytes(self.size, self.width) + 4 * self.blocks.rows
