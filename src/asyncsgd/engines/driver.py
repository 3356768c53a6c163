"""What the driver of a wall-clock engine (``local``, ``ray``) does whatever runs its learners.

The driver is the calling process: it starts the learners, then only reads and watches, in one loop
written here (:meth:`Driver.drive`): poll the records, deliver them to the monitor in apply order
with an evaluation when one is due at its version (:meth:`Driver.deliver`); take a checkpoint when
one is due; judge whether the run ends: every learner's run ended, a stop asked, the budget spent
on the server's own counts (never on the records read so far, :meth:`Driver.budget_reached`), or no
record for ``timeout`` seconds ("stalled"); then wait for activity. A learner that dies is recorded
and, with ``respawn``, replaced by its next incarnation (:meth:`Driver.lost`). The end is one
sequence too: the engine ends its learners and flushes their last records, and the result carries
the ledger's counts, the engine's accounting of every update and why the run stopped early.

An engine subclasses it and supplies where its learners and servers are, as hooks: the server's
counts, the parameters at a version, polling its records and deaths, whether a learner still runs,
how a stop reaches the learners (a shared flag that the processes check, or shard 0's answers to
the actors), a checkpoint's moment and content, and its end. Where the two engines' rules differ,
a hook says how: whether the driver itself ends the run at the budget (``stop_at_budget``), whether
learners whose runs ended may be started again (:meth:`Driver.restart_learners`), and whether
"learners_lost" is judged on the counts after the final flush (``judge_lost_after_flush``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.engines.common import Ledger
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import EngineResult, Monitor, Timing


class Driver:
    """Base of the ``local`` and ``ray`` runs; ``death`` rebuilds a saved death record."""

    stop_at_budget: ClassVar[bool] = True
    """The driver asks the learners to stop once the budget is spent; False where the server ends
    every learner's run at the budget itself and the driver waits for those runs to end."""
    judge_lost_after_flush: ClassVar[bool] = True
    """"learners_lost" is judged on the server's counts once the last records are in; False: at
    once, when the last learner is found gone (the counts the driver read are then final)."""

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
        self.all_ended = False
        """The loop ended because every learner's run had ended, none could go on."""

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

    def poll(self) -> int:
        """Deliver the records complete so far (and handle the deaths seen); how many."""
        raise NotImplementedError

    def learners_running(self) -> bool:
        """Whether a learner is still running (paused or ended learners are not)."""
        raise NotImplementedError

    def restart_learners(self) -> bool:
        """Every learner's run ended with the budget unspent and no stop asked: start again those
        that may go on; False when none can (the run then ends)."""
        return False

    def ask_stop(self) -> bool:
        """Ask the learners to stop; True when the loop need not wait for them (the end joins
        them), False when it waits until no learner runs, at most ``timeout`` seconds."""
        raise NotImplementedError

    def checkpoint_due(self) -> bool:
        """Whether the learners are (to be) paused for a checkpoint now (never, by default)."""
        return False

    def take_checkpoint(self) -> None:
        """Save a checkpoint (:meth:`checkpoint_state`) and let the learners go on."""
        raise NotImplementedError

    def wait_for_activity(self, delivered: int) -> None:
        """Wait a little for records or a learner's end; ``delivered``: records the last poll
        found (an engine that polls cheaply goes straight on when there were some)."""
        raise NotImplementedError

    def finish(self) -> None:
        """The end: every learner ended, its last records delivered, every update settled."""
        raise NotImplementedError

    def outcome(self) -> EngineResult:
        """The run's result, read off the engine's servers (:meth:`result`)."""
        raise NotImplementedError

    # -- the loop -------------------------------------------------------------------------------
    def drive(self) -> EngineResult:
        """Watch the learners until the run ends, then end it: the one loop of both engines."""
        self.watch()
        self.finish()
        if self.all_ended and self.judge_lost_after_flush:
            self.judge_lost()
        return self.outcome()

    def watch(self) -> None:
        """Poll, checkpoint, judge, wait; returns when the run is to end."""
        timeout = self.cfg.timeout
        last = time.perf_counter()
        asked: float | None = None  # when a stop was asked that the loop waits on
        while True:
            delivered = self.poll()
            if delivered:
                last = time.perf_counter()
            if asked is None and self.checkpoint_due():
                self.take_checkpoint()
                last = time.perf_counter()
                continue
            if not self.learners_running():
                if asked is not None or self.budget_reached():
                    return
                if self.restart_learners():
                    continue
                self.all_ended = True
                if not self.judge_lost_after_flush:
                    self.judge_lost()
                return
            if asked is not None:
                if time.perf_counter() - asked > timeout:
                    return  # learners that do not end are ended by the engine
            elif self.monitor.stop_requested() or (self.stop_at_budget and self.budget_reached()):
                if self.ask_stop():
                    return
                asked = time.perf_counter()
            elif time.perf_counter() - last > timeout:
                self.stop_reason = "stalled"
                if self.ask_stop():
                    return
                asked = time.perf_counter()
            self.wait_for_activity(delivered)

    def judge_lost(self) -> None:
        """Every learner ended with the budget unspent, no stop asked, and some died."""
        if not self.stop_reason and not self.budget_reached() and self.book.deaths:
            self.stop_reason = "learners_lost"

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
