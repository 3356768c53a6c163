"""The ``ray`` engine's pure pieces, without Ray: shard 0's admission (the exact budget with S
shards), the driver's joining of shard rows into records in apply order, the wrapping of received
buffers, and the cutting of payloads and answers into inline chunks."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from asyncsgd.engines.ray.accounting import Accounts
from asyncsgd.engines.ray.admission import Admission
from asyncsgd.engines.ray.plain import plain, restore
from asyncsgd.engines.ray.protocol import END, OK, PUSH, REFUSED, REJECTED, ShardRow
from asyncsgd.engines.ray.records import Joined, Joiner
from asyncsgd.engines.ray.wire import (
    CHUNK_BYTES,
    INLINE_BYTES,
    INLINE_LIMIT,
    answer_chunks,
    chunk_count,
    chunked,
    chunks,
    join,
    pack_changes,
    split,
    unchunk,
    unpack_changes,
)
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import Timing


def test_one_shard_admits_until_the_budget_is_applied():
    adm = Admission(shards=1, max_updates=3, max_samples=None)
    statuses = []
    for _ in range(5):
        if adm.admit(0, PUSH, 16, reserved=False) is None:
            statuses.append(REFUSED)
            continue
        adm.applied()
        statuses.append(adm.after(0, 16)[0])
    assert statuses == [OK, OK, END, REFUSED, REFUSED] and adm.updates == 3 and adm.seq == 3
    assert adm.pull(0, 16) == (REFUSED, False)


def test_a_rejected_push_uses_its_samples_but_no_update():
    adm = Admission(shards=1, max_updates=None, max_samples=40)
    assert adm.admit(0, REJECTED, 16, reserved=False) == 0  # the apply then refuses it
    assert adm.admit(0, PUSH, 16, reserved=False) == 0
    adm.applied()
    assert adm.after(0, 16) == (OK, False)
    assert adm.admit(0, PUSH, 16, reserved=False) == 0  # 32 < 40 before it: admitted, as in local
    assert adm.after(0, 16) == (END, False) and adm.samples == 48


@pytest.mark.parametrize("seed", range(20))
def test_reservations_keep_every_admitted_push_within_the_budget(seed):
    """Learners in random order: a reserved push is never refused, update numbers are 1..B, and
    every push some shard may apply (reserved, or admitted by shard 0 first) got one of them."""
    rng = np.random.default_rng(seed)
    budget, p = 17, 4
    adm = Admission(shards=3, max_updates=budget, max_samples=None)
    reserved = {i: adm.pull(i, 8)[1] for i in range(p)}
    running, tickets = set(range(p)), []
    while running:
        i = int(rng.choice(sorted(running)))
        kind = REJECTED if rng.random() < 0.1 else PUSH
        got = adm.admit(i, kind, 8, reserved[i])
        if got is None:
            assert not reserved[i], "a reserved push was refused"
            running.discard(i)
            continue
        if kind == PUSH:
            tickets.append(got)
        status, reserved[i] = adm.after(i, 8)
        if status == END:
            running.discard(i)
    assert sorted(tickets) == list(range(1, budget + 1)) and adm.reservations == {}


def test_stop_refuses_the_unreserved_and_honours_the_reserved():
    adm = Admission(shards=2, max_updates=100, max_samples=None)
    assert adm.pull(0, 8) == (OK, True) and adm.pull(1, 8) == (OK, True)
    adm.stopped = True
    assert adm.admit(0, PUSH, 8, reserved=True) == 1  # other shards may already have applied it
    assert adm.after(0, 8) == (END, False)
    assert adm.release(1) and not adm.release(1)
    assert adm.admit(1, PUSH, 8, reserved=False) is None
    assert adm.pull(2, 8) == (REFUSED, False)


def test_a_released_reservation_frees_its_slot():
    adm = Admission(shards=2, max_updates=1, max_samples=None)
    assert adm.pull(0, 8) == (OK, True)
    assert adm.pull(1, 8) == (OK, False)  # the only slot is held
    assert adm.admit(1, PUSH, 8, reserved=False) is None
    adm.release(0)  # learner 0 died
    assert adm.admit(1, PUSH, 8, reserved=False) == 1


@pytest.mark.parametrize("shards", [1, 2])
def test_shard_0_pauses_the_run_at_every_multiple_of_checkpoint_every_below_the_budget(shards):
    """Two learners, pushing in turn: the run pauses itself once the updates reach 4 and 8 (each
    learner returns after its push, so the other's, already on its way, lands too: 5 and 9), and
    not at the budget of 10."""
    adm = Admission(shards=shards, max_updates=10, max_samples=None, checkpoint_every=4)
    paused_at, running = [], [0, 1]
    reserved = {i: adm.pull(i, 8)[1] for i in running}
    while running:
        for i in list(running):
            if adm.admit(i, PUSH, 8, reserved[i]) is None:
                running.remove(i)
                continue
            if shards == 1:
                adm.applied()
            status, reserved[i] = adm.after(i, 8)
            if status == END:
                running.remove(i)
        if adm.checkpoint and not running:
            paused_at.append(adm.updates)
            adm.resume()
            assert adm.status()["checkpoint"] is False
            running = [0, 1]
            reserved = {i: adm.pull(i, 8)[1] for i in running}
    assert paused_at == [5, 9] and adm.updates == 10
    restored = Admission(shards=shards, max_updates=10, max_samples=None, checkpoint_every=4)
    restored.load_state_dict({**adm.state_dict(), "updates": 5})
    assert restored.checkpoint_at == 8  # the next multiple after a checkpoint at update 5


def row(seq: int, learner: int, n: int, tau: int, version: int, **kw) -> ShardRow:
    fields = {
        "seq": seq, "kind": PUSH, "learner": learner, "incarnation": 1, "n": n, "pulled": version - 1 - tau,
        "version": version, "tau": tau, "accepted": True, "applied": True, "nbytes": 40, "samples": 16,
        "loss": 0.5, "grad_norm": 3.0, "lr": 0.1, "end": float(version), "pull": 0.1, "compute": 0.2,
        "compress": 0.01, "wait": 0.0, "apply": 0.05, "previous": None, "down": 400, "code": "", "reason": "",
    }  # fmt: skip
    return ShardRow(**{**fields, **kw})


def test_records_wait_for_every_shard_and_the_push_phase():
    joiner = Joiner(shards=2)
    joiner.add(0, [row(1, 0, 1, 0, 1), row(2, 1, 1, 1, 2)])
    assert joiner.ready() == []  # shard 1's rows and both push phases are missing
    joiner.add(1, [row(0, 1, 1, 3, 7, grad_norm=4.0), row(0, 0, 1, 2, 5)])
    assert joiner.ready() == []
    joiner.add(0, [row(3, 0, 2, 0, 3, previous=(0.3, 0.06))])  # learner 0's next call brings it
    (first,) = joiner.ready()
    assert (first.record.learner, first.record.version, first.record.tau) == (0, 1, 2)  # τ = max_s τ_s
    assert first.record.pulled_version == 1 - 1 - 2 and first.shard_taus == [0, 2]
    assert (first.timing.push, first.timing.apply) == (0.3, 0.06)
    assert first.timing.bytes_down == 400  # what the learner's pull brought, as shard 0 logged it
    joiner.patch(1, 1, 1, 0.2, 0.07)
    (second,) = joiner.ready()
    assert second.record.tau == 3 and second.record.grad_norm == pytest.approx(math.sqrt(9 + 16))
    assert joiner.pending == 1  # learner 0's second push: shard 1 has not reported it


def test_an_ended_learner_no_longer_holds_records_back_and_its_torn_push_is_reported():
    joiner = Joiner(shards=2)
    joiner.add(0, [row(1, 2, 4, 0, 1), row(2, 0, 1, 0, 2, kind=REJECTED, accepted=False, applied=False)])
    joiner.patch(0, 1, 1, 0.1, 0.0)
    assert joiner.ready() == []
    joiner.close(2, 1)  # learner 2 died after reaching only shard 0
    (rejected,) = joiner.ready()  # its push is no whole update: set aside, not delivered
    assert not rejected.record.accepted and rejected.shard_taus == [0]  # no other shard saw it
    assert joiner.pending == 0
    late, torn = joiner.settle()
    assert late == [] and torn == [
        {"update": 1, "learner": 2, "incarnation": 1, "push": 4, "applied_shards": [0], "cut_shards": [],
         "missing_shards": [1]}
    ]  # fmt: skip


def test_a_row_that_comes_late_completes_a_push_set_aside_and_one_only_other_shards_got_is_torn():
    joiner = Joiner(shards=2)
    joiner.add(0, [row(1, 2, 4, 0, 1)])
    joiner.close(2, 1)
    joiner.close(3, 1)
    assert joiner.ready() == []
    joiner.add(1, [row(0, 2, 4, 0, 1), row(0, 3, 7, 0, 5)])  # learner 3's push never reached shard 0
    (late,), torn = joiner.settle()
    assert (late.record.version, late.record.applied, late.timing.push) == (1, True, 0.0)
    assert torn == [
        {"update": None, "learner": 3, "incarnation": 1, "push": 7, "applied_shards": [1], "cut_shards": [],
         "missing_shards": [0]}
    ]  # fmt: skip


def test_plain_state_reads_back_with_weights_only_and_restores_exactly(synthetic, tmp_path):
    """A learner's state (numpy seeds, error-feedback memory), its data streams (numpy orders, RNG
    state) and DC-ASGD's rule state (a dataclass) go through a file torch reads with
    ``weights_only=True``, and come back in their own types, equal."""
    from tests.conftest import make_job

    job = make_job(synthetic, model="logreg", learners=2, codec="topk", ratio=0.1, error_feedback=True,
                   remedy="dc_asgd")  # fmt: skip
    flat = job.flat_model()
    learner, streams = job.learner(0, flat), job.streams()
    learner.receive(flat.params, 0)
    learner.local_step(job.batch(streams.next(0)))
    learner.push()
    server = job.server(flat.params.clone(), flat.layout)
    state = {"learner": learner.state_dict(), "streams": streams.state(), "rule": server.rule_state}
    torch.save(plain(state), tmp_path / "state.pt")
    back = torch.load(tmp_path / "state.pt", weights_only=True)
    fresh = job.flat_model()
    template = {"learner": job.learner(0, fresh).state_dict(), "streams": job.streams().state(),
                "rule": job.server(fresh.params.clone(), fresh.layout).rule_state}  # fmt: skip
    restored = restore(template, back)
    assert type(restored["rule"]["remedies"][0]).__name__ == "DCState"
    assert same(restored, state)


def same(a, b) -> bool:
    """Equal values of the same types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if dataclasses.is_dataclass(a):
        return same(vars(a), vars(b))
    return a == b


def joined(version: int, applied: bool = True, accepted: bool = True, numbered: bool = True) -> Joined:
    record = ApplyRecord(learner=0, pulled_version=0, version=version, tau=0, nbytes=4, accepted=accepted,
                         applied=applied)  # fmt: skip
    return Joined(record, Timing(), 0.0, 16, "", [0, 0], numbered)


def test_accounts_tell_applied_torn_and_lost_updates_apart():
    """Update 2 changed nothing anywhere (a numbered drop), 3 and 7 never came (lost), 5 is torn,
    and a push only shard 1 got is torn with no number."""
    accounts = Accounts(shards=2)
    for j in [joined(1), joined(2, applied=False), joined(4), joined(4, accepted=False, numbered=False)]:
        accounts.count(j)
    torn = {"update": 5, "learner": 1, "incarnation": 1, "push": 9, "applied_shards": [0], "cut_shards": [],
            "missing_shards": [1]}  # fmt: skip
    unnumbered = {**torn, "update": None, "push": 3, "applied_shards": [1], "missing_shards": [0]}
    accounts.tear(torn)
    accounts.tear(unnumbered)
    accounts.count(joined(6))
    report = accounts.report(issued=7)
    unknown = {"learner": None, "incarnation": None, "applied_shards": None, "cut_shards": None,
               "missing_shards": None}  # fmt: skip
    assert report == {
        "updates": 8, "numbered_drops": 1, "torn_updates": [torn, unnumbered],
        "lost_updates": [{"update": 3, **unknown}, {"update": 7, **unknown}], "unrecorded_pushes": [],
    }  # fmt: skip
    applied = 3  # 1, 4 and 6: the pushes delivered as applied
    torn_count, lost = len(report["torn_updates"]), len(report["lost_updates"])
    assert report["updates"] == applied + report["numbered_drops"] + torn_count + lost
    restored = Accounts(shards=2)
    restored.load_state_dict(accounts.state_dict())
    assert restored.report(issued=7) == report


WRAP = """
import warnings
import numpy as np
from asyncsgd.engines.ray.wire import from_buffer, receive_read_only
buffer = np.arange(4, dtype=np.float32)
buffer.flags.writeable = False
{prepare}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tensor = from_buffer(buffer)
assert tensor.data_ptr() == buffer.ctypes.data and tensor.tolist() == [0.0, 1.0, 2.0, 3.0]
print(len(caught))
"""


@pytest.mark.parametrize("prepare, warned", [("receive_read_only()", 0), ("", 1)])
def test_a_prepared_process_wraps_received_buffers_in_place_without_a_warning(prepare, warned):
    # a fresh process: torch warns once per process, and this one may have warned already
    run = [sys.executable, "-c", WRAP.format(prepare=prepare)]
    out = subprocess.run(run, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == [str(warned)]


def test_a_wire_split_into_inline_chunks_joins_back_whole():
    step = CHUNK_BYTES // 4
    arrays = {
        "values": np.arange(3 * step + 5, dtype=np.float32),
        "indices": np.arange(step, dtype=np.int32),
        "bits": (np.arange(CHUNK_BYTES + 1) % 251).astype(np.uint8),
        "empty": np.zeros(0, np.float32),
    }
    head, parts = split(("topk", arrays, {"scale": 0.5}))
    counts = {"values": ("<f4", 4), "indices": ("<i4", 1), "bits": ("|u1", 2), "empty": ("<f4", 1)}
    assert head == ("topk", counts, {"scale": 0.5})
    assert all(isinstance(part, bytes) and len(part) <= CHUNK_BYTES for part in parts) and len(parts) == 8
    codec, joined, scalars = join(head, tuple(parts))
    assert (codec, scalars) == ("topk", {"scale": 0.5})
    assert joined.keys() == arrays.keys()
    for key, array in arrays.items():
        assert joined[key].dtype == array.dtype and np.array_equal(joined[key], array), key


@pytest.mark.parametrize("items", [1, CHUNK_BYTES // 4, CHUNK_BYTES // 4 + 1, 111_004])
def test_a_slice_comes_in_as_many_chunks_as_its_reader_expects(items):
    slice_ = np.random.default_rng(items).standard_normal(items).astype(np.float32)
    assert len(chunks(slice_)) == chunk_count(items)
    assert np.array_equal(unchunk(chunks(slice_), np.float32), slice_)


def test_only_answers_too_big_for_one_message_and_small_enough_for_several_are_chunked():
    assert not chunked(INLINE_BYTES) and chunked(INLINE_BYTES + 1)
    assert chunked(INLINE_LIMIT) and not chunked(INLINE_LIMIT + 1)


def test_changes_packed_for_chunks_unpack_to_their_values_and_coordinates():
    values = np.array([1.5, -2.0, np.inf], np.float32)
    changed = np.array([7, 0, 2**31 - 1], np.int32)
    got_values, got_changed = unpack_changes(pack_changes(values, changed), len(values))
    assert np.array_equal(got_values, values) and np.array_equal(got_changed, changed)
    assert got_changed.dtype == np.int32


@pytest.mark.parametrize(
    "size, changes, expected",
    [
        (INLINE_BYTES // 4, True, 0),  # a whole answer fits in the reply
        (111_004, False, 5),  # a whole answer in chunks
        (10**6, True, chunk_count(INLINE_LIMIT // 4)),  # whole through the store, changes in chunks
        (10**6, False, 0),  # whole through the store, in the reply
    ],
)
def test_a_learner_asks_for_the_chunks_its_answers_can_need(size, changes, expected):
    assert answer_chunks(size, changes) == expected
