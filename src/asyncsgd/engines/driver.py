"""What the driver of a wall-clock engine (``local``, ``ray``) does whatever runs its learners.

The driver is the calling process: it starts the learners, then only reads and watches. Every
record it reads goes to the monitor in apply order (:meth:`Driver.deliver`), with an evaluation
when one is due at its version; the budget is judged on the server's own counts, never on the
records read so far (:meth:`Driver.budget_reached`); a learner that dies is recorded and, with
``respawn``, replaced by its next incarnation (:meth:`Driver.lost`); a checkpoint is the engine's
state plus the driver's ledger (:meth:`Driver.checkpoint_state`); and the result carries the
ledger's counts, the engine's accounting of every update and why the run stopped early
(:meth:`Driver.result`). An engine subclasses it and supplies where its learners and servers
are: the server's counts, the parameters at a version, and its own loop, which differs in how a
stop reaches the learners (a shared flag for processes; shard 0's answers for actors).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.engines.common import Ledger
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import EngineResult, Monitor, Timing


class Driver:
    """Base of the ``local`` and ``ray`` runs; ``death`` rebuilds a saved death record."""

    def __init__(self, job: Job, monitor: Monitor, death: Callable[..., Any]) -> None:
        self.job, self.monitor = job, monitor
        self.cfg = job.config
        self.p, self.S = self.cfg.learners, self.cfg.shards
        self.restored: dict[str, Any] | None = monitor.restored_engine_state()
        self.book = Ledger(self.p, self.S)
        """What has reached the monitor, and the driver's part of a checkpoint."""
        if self.restored is not None:
            self.book.load_state_dict(self.restored, death)
        self.stop_reason = ""
        self.origin: float | None = None
        """Engine time 0 on the driver's clock (None until the learners start)."""

    # -- what the engine supplies ---------------------------------------------------------------
    def clock(self) -> float:
        """The driver's clock, in seconds (the one ``origin`` is read on)."""
        return time.perf_counter()

    def server_counts(self) -> tuple[int, int]:
        """Updates and samples the server has counted."""
        raise NotImplementedError

    def params_at(self, version: int) -> torch.Tensor:
        """The parameters at ``version`` (the current ones if no snapshot was kept there)."""
        raise NotImplementedError

    def evaluated(self, version: int) -> None:
        """An applied record at ``version`` went by: a snapshot kept there may be released."""

    # -- shared ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Engine seconds since the start (0 before it)."""
        return 0.0 if self.origin is None else self.clock() - self.origin

    def server_updates(self) -> int:
        """Updates the server has counted (not the records delivered so far, which lag)."""
        return self.server_counts()[0]

    def budget_reached(self) -> bool:
        return self.job.budget_reached(*self.server_counts())

    def deliver(
        self, record: ApplyRecord, timing: Timing, loss: float, samples: int, code: str,
        shard_taus: list[int], evaluate: bool = True,
    ) -> None:  # fmt: skip
        """One push to the monitor, in apply order; an evaluation when one is due at its version."""
        self.book.count(record, samples, timing.end, code, shard_taus)
        self.monitor.on_push(record, timing, loss, samples)
        if not record.applied:
            return
        if evaluate and self.monitor.eval_due(record.version):
            params = self.params_at(record.version)
            self.monitor.evaluate(params, record.version, self.book.samples, timing.end)
        self.evaluated(record.version)

    def lost(self, death: Any, replaceable: bool) -> bool:
        """Record one more death; True when its learner is to be replaced (``respawn`` is set and
        the engine says it may be), whose next incarnation is then counted."""
        self.book.deaths.append(death)
        if not (self.cfg.respawn and replaceable):
            return False
        self.book.incarnations[death.learner] += 1
        return True

    def checkpoint_state(self, engine: dict[str, Any]) -> dict[str, Any]:
        """The engine's state and the ledger's, at the server's update count (a checkpoint is due
        on it); counts one more checkpoint."""
        self.book.checkpoints += 1
        return {**engine, **self.book.state_dict(), "updates": self.server_updates()}

    def result(
        self, params: torch.Tensor, version: int, memory: int, head: dict[str, Any],
        accounting: dict[str, Any], tail: dict[str, Any] | None = None,
    ) -> EngineResult:  # fmt: skip
        """The run's result: ``head`` and ``tail`` are the engine's own entries of ``extra``."""
        extra = {**head, **self.book.extra(), "accounting": accounting, **(tail or {})}
        if self.stop_reason:
            extra["stop_reason"] = self.stop_reason
        return EngineResult(
            params=params,
            version=version,
            time=self.book.time,
            rejected=self.book.rejected_by_learner(),
            server_memory_bytes=memory,
            extra=extra,
        )
