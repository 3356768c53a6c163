"""The codec interface: what every gradient compressor declares, sends and validates.

A codec is stateless: ``encode(x, seed) -> Payload`` and ``decode(payload) -> Update``. Anything a
learner must remember between pushes (an error-feedback residual) lives in a
:mod:`asyncsgd.codecs.memory` wrapper, so one wrapper serves every codec.

Contracts every codec keeps (checked by the codec test battery):

* ``decode(encode(x))`` has ``x``'s size and dtype;
* the payload owns its arrays (it never aliases ``x``), so a learner may reuse its gradient buffer
  while a push is in flight; ``decode`` may return views of the payload, which the server consumes
  once;
* randomness comes only from ``seed``; a codec that needs the seed to decode sends it in the
  payload (:attr:`Capabilities.needs_seed`);
* ``check(payload)`` says what is wrong with a malformed payload, or returns ``None``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from asyncsgd.registry import Registry
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Rejection, Update
from asyncsgd.vocabulary.settings import Setting, setting

CODECS: Registry[type[Codec]] = Registry("codec")
SCOPES = ("global", "layer")
RATIO = setting(
    "ratio",
    0.01,
    "fraction of coordinates kept by the sparsifiers (topk, randomk, dropping, wangni)",
    0,
    1,
    True,
)
SCOPE = setting(
    "scope", "global", "groups a codec selects or scales in (the whole vector, or each layer)",
    choices=SCOPES,
)  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    """What a codec promises; tests and engines read these instead of guessing."""

    unbiased: bool = False
    """``E[decode(encode(x))] = x`` over the seed."""
    contraction: float | None = None
    """δ with ``E‖x − C(x)‖² ≤ (1 − δ)‖x‖²`` (expectation over the seed), or ``None``."""
    needs_seed: bool = False
    """The decoder regenerates random choices from the seed carried in the payload."""
    fixed_size: bool = True
    """Payload bytes do not depend on the values being encoded."""
    sparse: bool = False
    """Decodes to a sparse :class:`~asyncsgd.vocabulary.messages.Update` (values at indices)."""
    feedback: bool = False
    """Defined *with* error feedback in its paper: the job always wraps it in
    :class:`~asyncsgd.codecs.memory.ErrorFeedback` (``error_feedback`` is forced on)."""


@dataclass(frozen=True)
class ArraySpec:
    dtype: torch.dtype
    length: int


def keep_count(ratio: float, n: int) -> int:
    """Coordinates kept out of ``n`` at compression ratio ``ratio``: ``max(1, ⌊ratio·n⌋)``.

    A tiny tolerance absorbs binary round-off (``0.29 * 100`` is ``28.999…``).
    """
    return min(n, max(1, math.floor(ratio * n + 1e-9)))


def check_ratio(ratio: float) -> float:
    if not isinstance(ratio, int | float) or not (0.0 < float(ratio) <= 1.0):
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    return float(ratio)


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    return scope


def check_number(
    name: str, value: object, low: float, high: float = math.inf, *, open_low: bool = False
) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` if ``open_low``), else a ValueError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if open_low else v >= low) and v <= high
    if not ok:
        span = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{name} must be a finite number in {span}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, or a ValueError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return value


def scope_ranges(layout: FlatLayout, scope: str) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of the groups a codec treats separately: the whole vector, or each layer."""
    if check_scope(scope) == "global":
        return [(0, layout.size)]
    return [(s.offset, s.stop) for s in layout]


class Codec(ABC):
    """Base class of all codecs. Subclasses register with ``@CODECS.register(name)``."""

    name: ClassVar[str]
    settings: ClassVar[tuple[Setting | str, ...]] = ()
    """Run settings passed to the constructor as keywords of the same name: declared here, or
    the name of a run-level setting."""
    reference: ClassVar[str] = ""
    """The publication that defines the codec."""
    feedback: ClassVar[bool] = False
    """Defined with error feedback (see :attr:`Capabilities.feedback`), known without an instance."""
    shard_cut: ClassVar[str] = ""
    """How a payload is cut into the parts of S server shards (a key of
    ``asyncsgd.core.shards.CUTS``: ``dense``, ``coordinates``); empty: it is sent whole and every
    shard decodes all of it, keeping its own coordinates."""

    def __init__(self, layout: FlatLayout) -> None:
        self.layout = layout
        self.size = layout.size
        self.index_dtype = torch.int32 if self.size < 2**31 else torch.int64

    @property
    @abstractmethod
    def caps(self) -> Capabilities: ...

    @abstractmethod
    def encode(self, x: torch.Tensor, seed: int) -> Payload:
        """Compress the flat float32 vector ``x``; ``seed`` drives any randomness."""

    @abstractmethod
    def decode(self, payload: Payload) -> Update:
        """The vector the payload stands for, as a dense or sparse update."""

    @abstractmethod
    def spec(self, payload: Payload) -> dict[str, ArraySpec]:
        """The arrays a well-formed payload carries (may depend on its scalars)."""

    scalars: ClassVar[tuple[str, ...]] = ()
    """Names of the scalars a payload carries."""

    def dense_nbytes(self) -> int:
        return 4 * self.size

    def estimate_nbytes(self) -> int | None:
        """Payload bytes without encoding anything, for fixed-size codecs (else ``None``)."""
        return None

    def check(self, payload: Payload) -> Rejection | None:
        """Why the payload is malformed (wrong codec, arrays, shape, dtype, indices), or ``None``.

        Finiteness of the values is checked by the server, for every codec alike.
        """
        if payload.codec != self.name:
            return Rejection(
                "codec", f"codec mismatch: payload is {payload.codec!r}, server expects {self.name!r}"
            )
        missing = [s for s in self.scalars if s not in payload.scalars]
        if missing:
            return Rejection("shape", f"payload lacks scalar {missing[0]!r}")
        expected = self.spec(payload)
        if set(payload.arrays) != set(expected):
            return Rejection("shape", f"payload arrays {sorted(payload.arrays)}, expected {sorted(expected)}")
        for key, want in expected.items():
            arr = payload.arrays[key]
            if arr.dtype != want.dtype:
                return Rejection("dtype", f"{key!r} has dtype {arr.dtype}, expected {want.dtype}")
            if arr.dim() != 1 or int(arr.shape[0]) != want.length:
                return Rejection("shape", f"{key!r} has shape {tuple(arr.shape)}, expected ({want.length},)")
        if "indices" in payload.arrays:
            idx = payload.arrays["indices"]
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.size):
                return Rejection("index", f"index out of range [0, {self.size})")
        return None
