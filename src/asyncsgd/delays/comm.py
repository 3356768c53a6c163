"""Communication time of one message in the simulator: ``latency + bytes / bandwidth``."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkModel:
    latency: float = 0.0
    """Seconds per message."""
    bandwidth: float = math.inf
    """Bytes per second (``inf``: transfers are free)."""

    def __post_init__(self) -> None:
        if not (self.latency >= 0 and math.isfinite(self.latency)):
            raise ValueError(f"latency must be a finite number >= 0, got {self.latency!r}")
        if not (self.bandwidth > 0):
            raise ValueError(f"bandwidth must be > 0, got {self.bandwidth!r}")

    def time(self, nbytes: int) -> float:
        return self.latency + (0.0 if math.isinf(self.bandwidth) else nbytes / self.bandwidth)
