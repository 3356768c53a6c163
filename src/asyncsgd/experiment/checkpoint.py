"""Checkpoints of a running method, written atomically, and what ``--resume`` continues from.

A checkpoint (``<method>/checkpoint.pt``) holds everything the run needs to go on as if it had
not stopped: the engine's state (server parameters, per-shard versions and rule state, counters,
every learner's error-feedback memory, random generators and data-stream position) and the
recorder's totals (staleness histogram, bytes, time breakdown, evaluations, and how many trace
and metrics rows were written, so the logs are cut back to exactly that point). It is written to
a temporary file and renamed over the previous one, so a crash never leaves a torn checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FILE = "checkpoint.pt"
FORMAT = 1


class Checkpoints:
    def __init__(self, method_dir: Path, every: int, saved_at: int = 0) -> None:
        self.path = method_dir / FILE
        self.every = every
        self.next = (saved_at // every + 1) * every
        self.saved = 0

    def due(self, updates: int) -> bool:
        return updates >= self.next

    def save(self, engine_state: dict[str, Any], recorder: Any) -> None:
        updates = int(engine_state.get("updates", 0))
        state = {
            "format": FORMAT,
            "updates": updates,
            "engine": engine_state,
            "recorder": recorder.state_dict(),
        }
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self.next = (updates // self.every + 1) * self.every
        self.saved += 1


def load_checkpoint(method_dir: Path) -> dict[str, Any] | None:
    path = method_dir / FILE
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {state.get('format')!r}")
    return state
