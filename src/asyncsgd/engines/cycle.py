"""The learner's cycle, timed phase by phase: one for every engine.

Every algorithm's learner runs the same cycle::

    pre_steps × local_step(batch) → pull → receive → post_steps × local_step(batch) → push()

and every engine reports where its time went (:data:`~asyncsgd.vocabulary.reporting.PHASES`). What
differs between engines is only *how* a pull and a push travel and *which clock* times the local
steps: the simulator charges each step a draw of its delay model (and nothing for encoding), the
wall-clock engines read ``time.perf_counter``. :class:`Cycle` holds the learner's half;
:meth:`Cycle.run` is the whole cycle on the wall clock, with the engine's pull and push passed in.
The simulator, whose pull may happen at a later event than the steps before it, calls the two
halves itself (:meth:`Cycle.prepare`, :meth:`Cycle.exchange`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from asyncsgd.core.learner import Learner
from asyncsgd.vocabulary.messages import Push

Batch = tuple[torch.Tensor, torch.Tensor]
T = TypeVar("T")
now = time.perf_counter


@dataclass(frozen=True)
class Steps:
    """Local steps done: the last one's loss (NaN if none) and their seconds on the cycle's clock."""

    loss: float = math.nan
    seconds: float = 0.0


NO_STEPS = Steps()


@dataclass(frozen=True)
class Plan:
    """Local steps drawn but not yet run: their batches and their seconds on the simulated clock."""

    batches: tuple[Batch, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Pulled:
    """What a wall-clock engine's pull hands the learner; ``waited``: seconds of it spent waiting
    (for a lock), reported as ``wait`` rather than ``pull``."""

    params: torch.Tensor
    version: int
    waited: float = 0.0


@dataclass
class Encoded:
    """One cycle up to its push, measured in seconds of the cycle's clock."""

    push: Push
    loss: float
    """The last local step's loss: of the post-pull steps, else of the pre-pull ones."""
    compute: float
    """Seconds of every local step of the cycle (on the wall clock, installing the pull too)."""
    post: float
    """Of which after the pull."""
    compress: float
    """The learner's ``push()``: encoding, error feedback (0 on a simulated clock)."""
    pull: float = 0.0
    """Wall clock: the pull, less its waits."""
    wait: float = 0.0
    """Wall clock: the pull's waits (for a lock)."""
    start: float = 0.0
    """Wall clock: the reading when the cycle began."""
    end: float = 0.0
    """The clock's reading when encoding ended."""


class Cycle:
    """Learner ``learner``'s cycle; ``batch`` gives its next batch, ``step_seconds`` (simulated
    clock) the seconds one local step is charged, or None: the wall clock measures."""

    def __init__(
        self, learner: Learner, batch: Callable[[], Batch], step_seconds: Callable[[], float] | None = None
    ) -> None:
        self.learner = learner
        self.batch = batch
        self.step_seconds = step_seconds

    def steps(self, n: int) -> Steps:
        """Run ``n`` local steps now."""
        loss, seconds, start = math.nan, 0.0, now()
        for _ in range(n):
            loss = self.learner.local_step(self.batch())
            if self.step_seconds is not None:
                seconds += self.step_seconds()
        return Steps(loss, seconds if self.step_seconds is not None else now() - start)

    def plan(self, n: int) -> Plan:
        """Draw the batches and simulated seconds of ``n`` local steps now, in the order
        :meth:`steps` draws them (each stream is the learner's own or taken in the caller's order),
        to be run later, possibly elsewhere, by :meth:`work` or :meth:`finish`."""
        batches, seconds = [], 0.0
        for _ in range(n):
            batches.append(self.batch())
            if self.step_seconds is not None:
                seconds += self.step_seconds()
        return Plan(tuple(batches), seconds)

    def work(self, batches: Sequence[Batch]) -> float:
        """Local steps on ``batches``; the last one's loss (NaN if none)."""
        loss = math.nan
        for batch in batches:
            loss = self.learner.local_step(batch)
        return loss

    def finish(self, params: torch.Tensor, version: int, batches: Sequence[Batch]) -> tuple[Push, float]:
        """Receive a pull, run the post-pull steps on ``batches`` and encode: the push and the last
        step's loss (NaN if none). Touches only the learner's own state and its model."""
        self.learner.receive(params, version)
        loss = self.work(batches)
        return self.learner.push(), loss

    def prepare(self) -> Steps:
        """The steps before the pull."""
        return self.steps(self.learner.pre_steps)

    def exchange(self, params: torch.Tensor, version: int, before: Steps = NO_STEPS) -> Encoded:
        """Receive a pull, run the post-pull steps and encode the push; ``before``: the cycle's
        steps before the pull."""
        learner, wall = self.learner, self.step_seconds is None
        start = now()
        learner.receive(params, version)
        after = self.steps(learner.post_steps)
        post = now() - start if wall else after.seconds
        encoding = now()
        push = learner.push()
        end = now()
        return Encoded(
            push=push,
            loss=after.loss if learner.post_steps else before.loss,
            compute=before.seconds + post,
            post=post,
            compress=end - encoding if wall else 0.0,
            end=end,
        )

    def run(self, pull: Callable[[], Pulled | None], push: Callable[[Encoded], T]) -> T | None:
        """One whole cycle on the wall clock: steps, ``pull`` (None: the run refuses, the cycle
        ends there), steps, encode, then ``push`` of what was encoded, whose answer is returned."""
        start = now()
        before = self.prepare()
        asked = now()
        pulled = pull()
        if pulled is None:
            return None
        got = now()
        encoded = self.exchange(pulled.params, pulled.version, before)
        encoded.pull = got - asked - pulled.waited
        encoded.wait = pulled.waited
        encoded.start = start
        return push(encoded)
