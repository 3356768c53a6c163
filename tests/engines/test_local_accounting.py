"""Every update of a ``local`` run is accounted for, even when a learner dies in the middle of one.

A learner applies its own pushes, shard by shard. Killed part-way, it leaves an update applied to
some shards and not others; the summary must say which one, how, and still add up.
"""

from __future__ import annotations

import os
import signal

import pytest
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.core.learner import Learner
from asyncsgd.engines.local import LocalEngine
from asyncsgd.metrics.summary import build_accounting
from asyncsgd.vocabulary.messages import Payload, Push
from tests.engines.test_local import PidRecorder, local_job, no_leftovers, run_local

__all__ = ["no_leftovers"]  # the fixture, shared with test_local

FATAL_PUSH = 10


class DiesInLastShard(torch.Tensor):
    """Push values that SIGKILL the process adding them into the last of ``shards`` shards: the
    learner dies in the middle of an update that every shard before the last one applied."""

    shards = 1
    adds = 0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.add_:
            cls.adds += 1
            if cls.adds == cls.shards:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().__torch_function__(func, types, args, kwargs or {})


class DyingLearner(Learner):
    """Learner 1's 10th push carries :class:`DiesInLastShard` values."""

    def push(self) -> Push:
        push = super().push()
        self.cycles = getattr(self, "cycles", 0) + 1
        if self.id != 1 or self.cycles != FATAL_PUSH:
            return push
        DiesInLastShard.shards = self.shards
        values = push.payload.arrays["values"].as_subclass(DiesInLastShard)
        return Push(push.learner, push.pulled_version, Payload("identity", {"values": values}), push.loss)


def dying_learner(job: Job, i: int, flat) -> Learner:
    made = job.learner(i, flat)
    made.__class__ = DyingLearner
    made.shards = job.config.shards
    return made


class Versions(PidRecorder):
    """Also keeps the version of every applied push."""

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if record.applied:
            self.versions.append(record.version)


@pytest.mark.parametrize("shards", [1, 2])
def test_an_update_torn_by_a_death_is_named_and_the_books_balance(synthetic, no_leftovers, shards):
    job = local_job(synthetic, learners=3, updates=300, shards=shards)
    recorder = Versions(None, job.dataset.n_train, 10**9, lambda p: {}, 3)
    recorder.versions = []
    result, rec = run_local(job, engine=LocalEngine(learner_factory=dying_learner), recorder=recorder)
    no_leftovers.extend(rec.seen)
    (death,) = result.extra["deaths"]
    last = shards - 1
    # it died inside the last shard, holding its lock; whoever took the lock over is named
    assert death["learner"] == 1 and death["signal"] == "SIGKILL"
    assert death["held_lock_of_shards"] == [last]
    (taken,) = death["lock_taken_over_by"]
    assert taken["shard"] == last and taken["by"] in (0, 2, "supervisor")
    torn = death["in_flight"]
    assert torn["kind"] == "torn" and torn["learner"] == 1
    assert torn["applied_shards"] == list(range(last)) and torn["cut_shards"] == [last]
    assert torn["missing_shards"] == []
    # the torn update keeps its number (its last shard may hold part of it): the server's count,
    # every shard's version and the update numbers of the trace leave no gap and no double
    assert result.version == 300 and result.extra["shard_versions"] == [300] * shards
    assert sorted([*rec.versions, torn["update"]]) == list(range(1, 301))
    accounting = build_accounting(rec, result)
    assert accounting["balanced"]
    assert (accounting["updates"], accounting["applied"], accounting["torn"], accounting["lost"]) == (
        300, 299, 1, 0,
    )  # fmt: skip
    assert accounting["pushes"] == rec.pushes == 299
    assert accounting["torn_updates"] == [{k: v for k, v in torn.items() if k != "kind"}]


def test_a_run_without_deaths_balances_too(synthetic, no_leftovers):
    job = local_job(synthetic, learners=2, updates=100, shards=2, remedy="drop_stale", stale_bound=0)
    result, rec = run_local(job)
    no_leftovers.extend(rec.seen)
    accounting = build_accounting(rec, result)
    # with shards, a number is reserved before the shards decide: a drop keeps its number
    assert accounting["dropped"] == accounting["numbered_drops"] > 0
    assert accounting["updates"] == 100 == accounting["applied"] + accounting["numbered_drops"]
    assert accounting["balanced"] and accounting["torn"] == accounting["lost"] == 0
