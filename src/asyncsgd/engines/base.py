"""The engine interface: engines decide *when* core transitions happen and *where* tensors live.

An engine receives a :class:`~asyncsgd.job.Job` and a :class:`Monitor`. It builds the server and
learners from the job, drives pull → gradient → encode → push → apply until the job's budget is
reached or the monitor asks it to stop, and reports every push to the monitor with its
:class:`Timing`. The monitor records; the engine never writes files itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import torch

from asyncsgd.config.schema import RunConfig
from asyncsgd.core.messages import ApplyRecord
from asyncsgd.job import Job
from asyncsgd.registry import Registry

ENGINES: Registry[type[Engine]] = Registry("engine")

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


class Engine(ABC):
    name: ClassVar[str]
    learners_here: ClassVar[bool] = True
    """Learners compute in processes of this machine, so the ``device`` setting must exist here
    (checked when a job is built); an engine placing them elsewhere checks it there."""

    @abstractmethod
    def run(self, job: Job, monitor: Monitor) -> EngineResult: ...

    @classmethod
    def check(cls, job: Job) -> None:
        """Raise a ConfigError for settings this engine cannot run (called when a job is built)."""
        return None

    @classmethod
    def process_bytes(cls, config: RunConfig) -> int:
        """Memory the processes this engine starts on this machine take besides the model's copies
        (an interpreter with torch each), for the check that a run fits before it starts."""
        return 0
