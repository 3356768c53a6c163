"""What crosses the wire between learners and the server, and what the server reports back.

A :class:`Payload` is exactly what a codec sends: named arrays plus a few scalars (a seed, a
scale). Its :attr:`Payload.nbytes` is computed from those arrays, so the byte accounting of every
engine is the size of the data it actually moves. A :class:`Push` adds the header the server needs
to compute staleness. An :class:`Update` is a decoded gradient, dense or sparse, carrying a lazy
scalar factor so that rescaling it (a staleness-aware rate, an average) costs no pass over memory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch

SCALAR_BYTES = 8


@dataclass(frozen=True)
class Payload:
    """Encoded gradient: the arrays and scalars a codec puts on the wire."""

    codec: str
    arrays: dict[str, torch.Tensor]
    scalars: dict[str, float | int] = field(default_factory=dict)

    @functools.cached_property
    def nbytes(self) -> int:
        """Bytes on the wire: every array's buffer plus 8 bytes per scalar."""
        arrays = sum(int(a.numel()) * a.element_size() for a in self.arrays.values())
        return arrays + SCALAR_BYTES * len(self.scalars)


@dataclass(frozen=True)
class Push:
    """A learner's message to the server: header (learner id, pulled version) and payload."""

    learner: int
    pulled_version: int
    payload: Payload
    loss: float = float("nan")
    """Mini-batch loss the learner saw (for metrics only; never used by the update)."""


@dataclass(frozen=True)
class Rejection:
    """Why a push was refused: a short ``code`` for counting and a one-line ``message``."""

    code: str
    """One of ``unknown_learner``, ``version``, ``codec``, ``shape``, ``dtype``, ``index``,
    ``non_finite``."""
    message: str

    def __str__(self) -> str:
        return self.message


SCATTER_MIN = 1 << 14
"""Sparse updates of at least this many coordinates are added with ``scatter_add_`` over int64
indices: 0.74 of ``index_add_``'s time at 10^5 coordinates, 0.88 at 2^14; at 10^3, ×1.7, where
converting the indices and scaling a copy of the values cost more than the add saves
(``python -m benchmarks.sparse_apply``)."""


@dataclass
class Update:
    """A decoded gradient ``scale * values`` (dense), or scattered at ``indices`` (sparse)."""

    values: torch.Tensor
    size: int
    indices: torch.Tensor | None = None
    scale: float = 1.0

    @property
    def is_sparse(self) -> bool:
        return self.indices is not None

    def dense(self) -> torch.Tensor:
        """Materialise ``scale * values`` as a dense vector of length :attr:`size` (new tensor)."""
        if self.indices is None:
            out = self.values.clone()
        else:
            out = torch.zeros(self.size, dtype=self.values.dtype)
            out.index_add_(0, self.indices, self.values)
        if self.scale != 1.0:
            out.mul_(self.scale)
        return out

    def add_to(self, target: torch.Tensor, alpha: float = 1.0) -> None:
        """``target += alpha * scale * values`` in place, touching only the stored coordinates.

        Both sparse paths add ``values[i] * a`` (rounded to float32) into ``target[indices[i]]`` in
        the order of ``i``, so they agree bit for bit, repeated indices included."""
        a = alpha * self.scale
        if self.indices is None:
            target.add_(self.values, alpha=a)
        elif self.indices.numel() < SCATTER_MIN:
            target.index_add_(0, self.indices, self.values, alpha=a)
        else:
            values = self.values if a == 1.0 else self.values * a
            target.scatter_add_(0, self.indices.long(), values)

    def norm(self) -> float:
        """``‖scale·values‖₂``; NaN or Inf whenever any value is (one BLAS dot product)."""
        return abs(self.scale) * math.sqrt(float(torch.dot(self.values, self.values)))


@dataclass(frozen=True)
class ApplyRecord:
    """What the server reports for one push, accepted or not."""

    learner: int
    pulled_version: int
    version: int
    """Server version after this push (unchanged when the push was rejected or dropped)."""
    tau: int
    """Staleness: server version when the push arrived minus the version the learner pulled."""
    nbytes: int
    accepted: bool = True
    applied: bool = True
    """False when a rule deliberately discarded a valid push (e.g. a staleness bound)."""
    reason: str = ""
    code: str = ""
    """The :class:`Rejection` code of a push that was not accepted; empty otherwise."""
    grad_norm: float = float("nan")
    lr: float = float("nan")
    """Effective learning rate this push was applied with."""
    support: torch.Tensor | None = field(default=None, compare=False, repr=False)
    """The indices of the only parameters this push changed (a sparse update under a rule that
    keeps to its coordinates, see ``ServerRule.in_support``); ``None``: any may have changed."""
