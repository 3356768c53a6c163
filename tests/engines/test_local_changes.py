"""Pulls that copy only the coordinates changed since a learner's last pull
(``engines/local/changed_pulls.py``).

The property that matters: after every pull the learner's buffer equals the shard, bit for bit,
whichever way it was refreshed; and the cheap way is really taken when it applies.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asyncsgd.engines.change_log import ANY, ChangeLog
from asyncsgd.engines.local import LocalEngine, changed_pulls
from asyncsgd.engines.local.changed_pulls import PulledCopy, change_log_shape
from asyncsgd.metrics import params_sha256
from tests.conftest import make_job, run_sim
from tests.engines.test_local import local_job, no_leftovers, read_trace, run_local

__all__ = ["no_leftovers"]  # the fixture, shared with test_local
SIZE = 640


def log(slots: int = 8, width: int = 16) -> ChangeLog:
    return ChangeLog.private(slots, width)


class Shard:
    """A shard's parameters and version, changed by sparse or dense updates, with its log."""

    def __init__(self, changelog: ChangeLog, seed: int = 0) -> None:
        self.params = torch.zeros(SIZE)
        self.version = 0
        self.changes = changelog
        self.rng = torch.Generator().manual_seed(seed)

    def update(self, count: int | None) -> None:
        """``count`` random coordinates change (``None``: all of them)."""
        if count is None:
            self.params.add_(torch.randn(SIZE, generator=self.rng))
            support = None
        else:
            support = torch.randperm(SIZE, generator=self.rng)[:count].to(torch.int32)
            self.params.index_add_(0, support.long(), torch.randn(count, generator=self.rng))
        self.version += 1
        self.changes.record(self.version, support)


def test_random_interleavings_leave_every_buffer_equal_to_the_shard():
    shard = Shard(log(slots=8, width=64))
    learners = [(PulledCopy(1, [shard.changes]), torch.full((SIZE,), float("nan"))) for _ in range(3)]
    rng = np.random.default_rng(1)
    for _ in range(400):
        if rng.random() < 0.6:  # mostly sparse, a few too wide for the log, a few dense
            wide = rng.random() < 0.05
            shard.update(None if rng.random() < 0.02 else int(rng.choice([65, 100] if wide else [1, 5, 16])))
        else:
            copy, buffer = learners[rng.integers(len(learners))]
            copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
            assert torch.equal(buffer, shard.params)
    partial = [copy.partial for copy, _ in learners]
    assert all(n > 20 for n in partial), partial


def test_a_full_copy_whenever_the_changes_are_not_all_known_or_too_many():
    changelog = log(slots=4, width=8)
    assert changelog.changed(0, 0).numel() == 0  # nothing happened: nothing to copy
    shard = Shard(changelog)
    for count in (3, 3):
        shard.update(count)
    assert changelog.changed(0, 2).numel() == 6
    shard.update(3)
    assert changelog.changed(0, 3) is None  # 9 changes: more than the width, a full copy is cheaper
    assert changelog.changed(1, 3).numel() == 6
    shard.update(9)  # wider than the log
    assert int(changelog.tags[0][1]) == ANY and changelog.changed(3, 4) is None
    assert changelog.changed(4, 4).numel() == 0
    for _ in range(5):
        shard.update(1)
    assert changelog.changed(4, 9) is None  # the gap outgrew the log (4 slots)
    assert changelog.changed(5, 9).numel() == 4
    assert changelog.changed(10, 9) is None  # a version ahead of the shard


def test_an_update_is_narrow_while_the_log_knows_its_coordinates():
    changelog = log(slots=4, width=8)
    shard = Shard(changelog)
    assert changelog.narrow(0)  # no update yet: nothing stands in the way of changes only
    shard.update(3)
    assert changelog.narrow(1)
    shard.update(9)  # wider than the log
    assert not changelog.narrow(2)
    shard.update(None)  # dense
    assert not changelog.narrow(3)
    shard.update(1)
    assert changelog.narrow(4) and not changelog.narrow(8)  # 8: a version the log has not seen


def test_a_new_buffer_or_no_log_starts_with_a_full_copy():
    shard = Shard(log())
    copy, a, b = PulledCopy(1, [shard.changes]), torch.zeros(SIZE), torch.zeros(SIZE)
    shard.update(3)
    copy.refresh(0, a, shard.params, shard.version, a.data_ptr())
    shard.update(3)
    copy.refresh(0, b, shard.params, shard.version, b.data_ptr())  # b never held version 1
    assert torch.equal(b, shard.params) and copy.partial == 0
    shard.update(3)
    copy.refresh(0, b, shard.params, shard.version, b.data_ptr())
    assert torch.equal(b, shard.params) and copy.partial == 1
    none = PulledCopy(1, [])
    for _ in range(2):
        shard.update(3)
        none.refresh(0, a, shard.params, shard.version, a.data_ptr())
        assert torch.equal(a, shard.params) and none.partial == 0


@pytest.mark.parametrize(
    "settings, logged",
    [
        ({"codec": "topk", "ratio": 0.01}, True),
        ({"codec": "topk", "ratio": 0.01, "remedy": "staleness_lr"}, True),
        ({"codec": "topk", "ratio": 0.01, "rule": "momentum"}, False),  # moves every coordinate
        ({"codec": "identity"}, False),  # dense pushes
    ],
)
def test_the_log_exists_only_where_updates_can_be_sparse(synthetic, settings, logged):
    job = make_job(synthetic, learners=3, **settings)
    server = job.server(job.flat_model().params, job.layout())
    assert change_log_shape(server, 2**20) == ((16, 2**14) if logged else (0, 0))
    assert change_log_shape(server, 2**20 - 1) == (0, 0)  # a full copy of a small shard is cheaper


@pytest.fixture
def small_shards_logged(monkeypatch):
    """The synthetic task's model is far below the size where the log pays: log it anyway."""
    monkeypatch.setattr(changed_pulls, "MIN_SHARD", 0)


@pytest.mark.parametrize("ratio, pushes_logged", [(0.005, 3), (0.01, 1)])
def test_learner_processes_pull_changes_and_train_exactly_as_the_simulator(
    synthetic, tmp_path, no_leftovers, small_shards_logged, ratio, pushes_logged
):
    """Three learner processes with top-0.5% pushes: most pulls copy only the changed coordinates;
    with top-1% pushes, only one push fits the log's width, so most pulls copy the shard whole,
    without the lock, and repair what landed meanwhile. Either way, replaying the run's staleness
    in the simulator gives the same parameters, bit for bit (a learner whose copy missed a change
    would compute a different gradient)."""
    settings = {"learners": 3, "updates": 150, "lr": 0.05, "codec": "topk", "ratio": ratio}
    job = local_job(synthetic, hidden=[64], **settings)
    size, k = job.layout().size, int(ratio * job.layout().size)
    assert pushes_logged * k <= size // 64 < (pushes_logged + 1) * k  # how many pushes fit the width
    result, rec = run_local(job, tmp_path, LocalEngine())
    no_leftovers.extend(rec.seen)
    if pushes_logged == 3:
        assert result.extra["change_pulls"] > 75
    recorded = read_trace(tmp_path / "trace.csv")
    assert max(int(r["tau"]) for r in recorded) >= 1
    replay = make_job(synthetic, hidden=[64], schedule="trace", trace=str(tmp_path), **settings)
    replayed, _ = run_sim(replay)
    assert params_sha256(replayed.params) == params_sha256(result.params)


def test_an_invalidated_log_makes_the_next_pull_a_full_copy():
    """A lock taken over from a dead learner may hide a half-applied, unlogged update."""
    shard = Shard(log())
    copy, buffer = PulledCopy(1, [shard.changes]), torch.zeros(SIZE)
    shard.update(3)
    copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
    shard.params[7] += 1.0  # the dead learner's partial write: no version, no log entry
    shard.changes.invalidate()
    copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
    assert torch.equal(buffer, shard.params) and copy.partial == 0
    shard.update(3)
    copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
    assert torch.equal(buffer, shard.params) and copy.partial == 1


def test_sharded_learner_pulls_changes_per_shard_and_matches_the_simulator(
    synthetic, no_leftovers, small_shards_logged
):
    settings = {"learners": 1, "updates": 60, "codec": "topk", "ratio": 0.005, "hidden": [64]}
    sharded, rec = run_local(local_job(synthetic, shards=2, **settings))
    no_leftovers.extend(rec.seen)
    assert sharded.extra["change_pulls"] >= 2 * 59  # every pull after the first, on both shards
    reference, _ = run_sim(make_job(synthetic, delay="constant", **settings))
    assert torch.equal(sharded.params, reference.params)


def copy_while_updating(dst: torch.Tensor, shard: Shard, counts: list[int | None], rng) -> None:
    """Copy the shard into ``dst`` piece by piece while updates land in between, as a copy made
    without the lock may see them (``None``: a dense update)."""
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, SIZE), size=len(counts), replace=False))
    start = 0
    for cut, count in zip(cuts, counts, strict=True):
        dst[start:cut].copy_(shard.params[start:cut])
        shard.update(count)
        start = cut
    dst[start:].copy_(shard.params[start:])


def test_a_whole_copy_made_without_the_lock_is_repaired_from_the_log():
    """The copy may mix versions at the coordinates of the updates that land during it; the next
    read copies those again (or everything, when the log cannot tell), so the buffer ends equal
    to the shard whichever updates landed."""
    shard = Shard(log(slots=8, width=64))
    copy, buffer = PulledCopy(1, [shard.changes]), torch.full((SIZE,), float("nan"))
    rng = np.random.default_rng(2)
    torn = repaired = 0
    for _ in range(300):
        for _ in range(rng.integers(0, 9)):  # often more changes than the log's width: a whole copy
            shard.update(int(rng.choice([1, 5, 16])))
        ptr = buffer.data_ptr()
        stamp = copy.stamp(0, shard.version, ptr)
        if stamp is not None:
            landing = [
                None if rng.random() < 0.03 else int(rng.choice([1, 5, 16, 65]))
                for _ in range(rng.integers(0, 4))
            ]
            copy_while_updating(buffer, shard, landing, rng)
            copy.hold(0, stamp, ptr)
            torn += not torch.equal(buffer, shard.params)
            partial = copy.partial
            copy.refresh(0, buffer, shard.params, shard.version, ptr)
            repaired += copy.partial > partial
        else:
            copy.refresh(0, buffer, shard.params, shard.version, ptr)
        assert torch.equal(buffer, shard.params)
    assert torn > 10 and repaired > 10, (torn, repaired)


def test_an_update_begun_before_the_copy_and_ended_after_it_is_repaired_too():
    """A writer takes the lock as soon as the puller releases it: its update, numbered after the
    stamp, may be half applied when the copy starts and finish after it."""
    shard = Shard(log())
    copy, buffer = PulledCopy(1, [shard.changes]), torch.zeros(SIZE)
    support = torch.tensor([3, 300, 600], dtype=torch.int32)
    stamp = copy.stamp(0, shard.version, buffer.data_ptr())  # under the lock
    shard.params[3] += 1.0  # the writer, holding the lock now, has changed one coordinate so far
    buffer.copy_(shard.params)
    shard.params[300] += 1.0
    shard.params[600] += 1.0
    shard.version += 1
    shard.changes.record(shard.version, support)
    copy.hold(0, stamp, buffer.data_ptr())
    assert not torch.equal(buffer, shard.params)
    copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
    assert torch.equal(buffer, shard.params) and copy.partial == 1


def test_a_lock_taken_over_during_the_copy_makes_the_next_read_a_full_copy():
    shard = Shard(log())
    copy, buffer = PulledCopy(1, [shard.changes]), torch.zeros(SIZE)
    stamp = copy.stamp(0, shard.version, buffer.data_ptr())
    assert stamp is not None  # a buffer never pulled into
    buffer.copy_(shard.params)
    shard.params[7] += 1.0  # a dead learner's partial write: no version, no log entry
    shard.changes.invalidate()
    copy.hold(0, stamp, buffer.data_ptr())
    assert copy.stamp(0, shard.version, buffer.data_ptr()) is not None
    copy.refresh(0, buffer, shard.params, shard.version, buffer.data_ptr())
    assert torch.equal(buffer, shard.params) and copy.partial == 0
    shard.update(3)
    assert copy.stamp(0, shard.version, buffer.data_ptr()) is None  # by changes, under the lock
    assert PulledCopy(1, []).stamp(0, shard.version, buffer.data_ptr()) is None  # no log: under the lock
