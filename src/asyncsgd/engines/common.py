"""What the wall-clock engines (``local``, ``ray``) share: the settings neither can run, and the
driver's ledger of what reached the monitor (counts a checkpoint keeps)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncsgd.assembly.job import Job
from asyncsgd.errors import ConfigError
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import tau_histogram


def check_wall_clock(job: Job, engine: str) -> None:
    """Simulator-only settings, and more shards than parameters, as a ConfigError naming the key."""
    cfg = job.config
    if cfg.protocol == "sync":
        raise ConfigError(
            "protocol", f"engine {engine!r} runs the asynchronous protocol only (use engine='sim')"
        )
    if cfg.schedule != "compute":
        raise ConfigError(
            "schedule",
            f"schedule={cfg.schedule!r} is a simulator setting; engine {engine!r} runs in real time",
        )
    size = job.layout().size
    if cfg.shards > size:
        raise ConfigError("shards", f"{cfg.shards} shards for {size} parameters")


@dataclass
class Ledger:
    """What a driver has delivered to the monitor, and the part of a checkpoint that is its own.

    ``deaths`` holds the engine's own records of lost learners (dataclasses with ``to_dict``)."""

    learners: int
    shards: int
    samples: int = 0
    updates: int = 0
    rejected: dict[int, Counter[str]] = field(default_factory=dict)
    shard_tau: list[Counter[int]] = field(default_factory=list)
    deaths: list[Any] = field(default_factory=list)
    checkpoints: int = 0
    time_offset: float = 0.0
    """Engine seconds run before this session (a resumed run)."""
    last_end: float = 0.0
    incarnations: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shard_tau = self.shard_tau or [Counter() for _ in range(self.shards)]
        self.incarnations = self.incarnations or [1] * self.learners

    def count(self, record: ApplyRecord, samples: int, end: float, code: str, shard_taus: list[int]) -> None:
        """One push delivered: its samples, rejection (per sending learner and reason) or τ_s."""
        self.samples += samples
        self.last_end = max(self.last_end, end)
        if not record.accepted:
            self.rejected.setdefault(record.learner, Counter())[code or "other"] += 1
        elif record.applied and self.shards > 1:
            for s, tau in enumerate(shard_taus):
                self.shard_tau[s][tau] += 1
        if record.applied:
            self.updates = max(self.updates, record.version)

    @property
    def time(self) -> float:
        return max(self.last_end, self.time_offset)

    def state_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "updates": self.updates,
            "rejected": {k: dict(v) for k, v in self.rejected.items()},
            "shard_tau": [dict(c) for c in self.shard_tau],
            "deaths": [vars(d).copy() for d in self.deaths],
            "time": self.last_end,
            "checkpoints": self.checkpoints,
            "incarnations": list(self.incarnations),
        }

    def load_state_dict(self, state: dict[str, Any], death: Callable[..., Any]) -> None:
        self.samples = int(state["samples"])
        self.updates = int(state["updates"])
        self.rejected = {int(k): Counter(v) for k, v in state["rejected"].items()}
        self.shard_tau = [Counter({int(k): v for k, v in c.items()}) for c in state["shard_tau"]]
        self.deaths = [death(**d) for d in state["deaths"]]
        self.time_offset = float(state["time"])
        self.checkpoints = int(state["checkpoints"])
        self.incarnations = list(state["incarnations"])

    def extra(self) -> dict[str, Any]:
        """The ledger's part of ``EngineResult.extra``."""
        extra: dict[str, Any] = {"deaths": [d.to_dict() for d in self.deaths]}
        extra["checkpoints"] = self.checkpoints
        if self.shards > 1:
            extra["staleness_per_shard"] = [tau_histogram(c) for c in self.shard_tau]
        return extra

    def rejected_by_learner(self) -> dict[int, dict[str, int]]:
        return {k: dict(v) for k, v in sorted(self.rejected.items())}
