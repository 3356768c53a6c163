"""What an engine reports: a :class:`Timing` per push and an :class:`EngineResult` at the end, to a
:class:`Monitor` that records them and answers when to evaluate, checkpoint and stop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: reading PHASES (a results database) needs no torch
    import torch

    from asyncsgd.vocabulary.messages import ApplyRecord

PHASES = ("pull", "compute", "compress", "push", "wait", "apply")
"""Where a push's time goes, in order; every engine reports all six (zero where they do not apply)."""


@dataclass
class Timing:
    """One push's life in engine seconds (simulated for ``sim``, wall-clock for real engines)."""

    pull: float = 0.0
    compute: float = 0.0
    compress: float = 0.0
    push: float = 0.0
    wait: float = 0.0
    """Queued behind other pushes at the server, or waiting at a barrier."""
    apply: float = 0.0
    end: float = 0.0
    """Engine time at which the push was applied."""
    bytes_down: int = 0
    """Bytes of the pull this gradient was computed on."""

    def phases(self) -> dict[str, float]:
        return {p: getattr(self, p) for p in PHASES}


def tau_histogram(counts: Mapping[int, int]) -> dict[str, Any]:
    """Staleness τ of applied pushes, from their counts per τ (exact: every τ is an integer):
    how many, mean, max and the histogram ``h[τ]`` for τ = 0 … max."""
    total = sum(counts.values())
    hist = [counts.get(t, 0) for t in range(max(counts) + 1)] if counts else []
    mean = sum(t * n for t, n in counts.items()) / total if total else None
    return {"count": total, "mean": mean, "max": max(counts) if counts else None, "histogram": hist}


class Monitor(Protocol):
    """What an engine reports to, and asks of, the run's recorder."""

    def on_push(self, record: ApplyRecord, timing: Timing, loss: float, samples: int) -> None: ...

    def eval_due(self, version: int) -> bool: ...

    def evaluate(self, params: torch.Tensor, version: int, samples: int, time: float) -> None: ...

    def stop_requested(self) -> bool: ...

    # checkpoints (engines that support them; the monitor stores what the engine hands over)
    def checkpoint_due(self, updates: int) -> bool: ...

    def save_checkpoint(self, engine_state: dict[str, Any]) -> None: ...

    def restored_engine_state(self) -> dict[str, Any] | None: ...


@dataclass
class EngineResult:
    params: torch.Tensor
    version: int
    time: float
    """Engine time at the end (simulated seconds for ``sim``)."""
    rejected: dict[int, dict[str, int]] = field(default_factory=dict)
    server_memory_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
