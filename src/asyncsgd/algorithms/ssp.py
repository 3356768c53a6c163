"""Bounded staleness (Stale Synchronous Parallel) as a gate that engines consult."""

from __future__ import annotations

from collections.abc import Iterable

from asyncsgd.vocabulary.settings import setting

SSP_BOUND = setting(
    "ssp_bound", -1,
    "bounded staleness (SSP): a learner more than this many pushes ahead of the slowest waits "
    "(−1: off, 0: bulk-synchronous)",
    -1, 10**9,
)  # fmt: skip


class SSPGate:
    """SSP (Ho et al., NeurIPS 2013): every learner has a clock, the number of its pushes the
    server has handled, and a learner more than ``bound`` clocks ahead of the slowest waits::

        learner i may start a cycle  iff  c_i − min_j c_j ≤ s

    s = 0 is bulk-synchronous: every round, all learners pull the same parameters; s = ∞ is fully
    asynchronous (Downpour). The gate is pure bookkeeping; an engine calls :meth:`tick` when a
    push of learner i has been handled (applied, dropped or rejected), asks :meth:`may_start`
    before a learner's next cycle, and :meth:`released` which waiting learners may go on. An
    engine whose clocks live elsewhere (shared memory) may set ``clocks`` before asking; a
    clock of ``inf`` marks a learner that is gone and holds no one back.
    """

    def __init__(self, num_learners: int, bound: int) -> None:
        if num_learners < 1:
            raise ValueError(f"num_learners must be >= 1, got {num_learners}")
        if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
            raise ValueError(f"ssp_bound must be an integer >= 0, got {bound!r}")
        self.bound = bound
        self.clocks: list[float] = [0] * num_learners

    def may_start(self, learner: int) -> bool:
        return self.clocks[learner] - min(self.clocks) <= self.bound

    def tick(self, learner: int) -> None:
        self.clocks[learner] += 1

    def released(self, waiting: Iterable[int]) -> list[int]:
        """The waiting learners that may start now, in id order."""
        return sorted(i for i in waiting if self.may_start(i))
