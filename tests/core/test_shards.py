"""Sharded decoding: every shard's part of a push, whole or cut, decodes to its slice of the update."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asyncsgd.codecs import CODECS, make_codec
from asyncsgd.core.server import ParameterServer
from asyncsgd.core.shards import (
    CUTS,
    CoordinatePart,
    DensePart,
    ShardPlan,
    SliceCodec,
    cut,
    cuttable,
    part_codec,
    positions,
)
from asyncsgd.rules import ServerRule
from asyncsgd.rules.sgd import SGD
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Push
from tests.codecs.records import LAYOUT, RECORDS

CASES = pytest.mark.parametrize("rec", RECORDS, ids=[r.id for r in RECORDS])
CUTTABLE = [r for r in RECORDS if CODECS.get(r.name).shard_cut]
CUT = pytest.mark.parametrize("rec", CUTTABLE, ids=[r.id for r in CUTTABLE])
UNCUT = [r for r in RECORDS if not CODECS.get(r.name).shard_cut]
WHOLE = pytest.mark.parametrize("rec", UNCUT, ids=[r.id for r in UNCUT])
SHARDS = pytest.mark.parametrize("shards", [2, 3, 7])


def vector(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(LAYOUT.size, generator=g) * torch.linspace(0.1, 3.0, LAYOUT.size)


def encoded(rec, seed: int = 0):
    codec = make_codec(rec.name, LAYOUT, **rec.params)
    return codec, codec.encode(vector(seed), seed=seed + 1)


@CASES
@SHARDS
def test_shards_decode_their_slices_of_the_whole_payload(rec, shards):
    codec, payload = encoded(rec)
    whole = codec.decode(payload).dense()
    parts = [SliceCodec(codec, a, b).decode(payload).dense() for a, b in ShardPlan(LAYOUT.size, shards)]
    assert torch.equal(torch.cat(parts), whole)


@CUT
@SHARDS
def test_cut_parts_decode_to_the_same_slices_and_carry_the_whole_bytes(rec, shards):
    codec, payload = encoded(rec)
    whole = codec.decode(payload).dense()
    decoded, nbytes = [], 0
    for a, b in ShardPlan(LAYOUT.size, shards):
        part, shard = cut(codec, payload, a, b), part_codec(codec, a, b)
        assert shard.check(part) is None and shard.name == codec.name
        decoded.append(shard.decode(part).dense())
        nbytes += part.nbytes
    assert torch.equal(torch.cat(decoded), whole)
    assert nbytes == payload.nbytes


@WHOLE
def test_payloads_that_cannot_be_cut_are_decoded_whole_by_every_shard(rec):
    codec, _ = encoded(rec)
    assert not cuttable(codec) and isinstance(part_codec(codec, 0, 10), SliceCodec)


def test_every_cut_kind_names_its_codecs():
    kinds = {CODECS.get(name).shard_cut for name in CODECS.names()}
    assert kinds - {""} == set(CUTS)
    assert CODECS.get("identity").shard_cut == "dense" and CODECS.get("topk").shard_cut == "coordinates"


SERVED = [("identity", {}), ("topk", {"ratio": 0.1}), ("qsgd", {"levels": 4})]


@pytest.mark.parametrize("name, params", SERVED, ids=[name for name, _ in SERVED])
@pytest.mark.parametrize("whole", [True, False], ids=["whole", "cut"])
def test_sharded_servers_apply_what_one_server_applies_bit_for_bit(name, params, whole):
    codec = make_codec(name, LAYOUT, **params)
    start = torch.randn(LAYOUT.size, generator=torch.Generator().manual_seed(5))
    one = ParameterServer(start, codec, ServerRule(SGD(), 0.1), 1)
    plan = list(ShardPlan(LAYOUT.size, 3))
    send_whole = whole or not cuttable(codec)
    shards = [
        ParameterServer(
            start[a:b],
            SliceCodec(codec, a, b) if send_whole else part_codec(codec, a, b),
            ServerRule(SGD(), 0.1),
            1,
        )
        for a, b in plan
    ]
    for step in range(6):
        payload = codec.encode(vector(step), seed=step)
        assert one.apply(Push(0, step, payload)).accepted
        for (a, b), server in zip(plan, shards, strict=True):
            sent = payload if send_whole else cut(codec, payload, a, b)
            assert server.apply(Push(0, step, sent)).accepted
    assert torch.equal(torch.cat([s.params for s in shards]), one.params)


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_positions_select_exactly_the_indices_in_range_in_order(order):
    rng = np.random.default_rng(0)
    idx = np.sort(rng.integers(0, 1000, 400)).astype(np.int32)  # repeats included
    if order == "shuffled":
        rng.shuffle(idx)
    for a, b in [(0, 1000), (0, 0), (250, 600), (999, 1000), (1000, 1000)]:
        where = positions(idx, a, b)
        assert isinstance(where, slice) == (order == "ascending")
        assert idx[where].tolist() == [i for i in idx.tolist() if a <= i < b]


def coordinates(values, indices) -> Payload:
    return Payload("topk", {"values": values, "indices": indices})


@pytest.mark.parametrize(
    "payload, code",
    [
        (coordinates(torch.ones(2), torch.tensor([0, 10], dtype=torch.int32)), "index"),  # past the shard
        (coordinates(torch.ones(2), torch.tensor([-1, 3], dtype=torch.int32)), "index"),
        (coordinates(torch.ones(3), torch.tensor([1, 2], dtype=torch.int32)), "shape"),
        (coordinates(torch.ones(2), torch.tensor([1, 2], dtype=torch.int64)), "dtype"),
        (coordinates(torch.ones(2, dtype=torch.float64), torch.tensor([1, 2], dtype=torch.int32)), "dtype"),
        (Payload("topk", {"values": torch.ones(2)}), "shape"),
        (
            Payload("randomk", {"values": torch.ones(1), "indices": torch.zeros(1, dtype=torch.int32)}),
            "codec",
        ),
    ],
    ids=["past", "negative", "lengths", "index-dtype", "value-dtype", "missing", "codec"],
)
def test_a_malformed_part_is_rejected_by_its_shard(payload, code):
    shard = CoordinatePart(make_codec("topk", FlatLayout.single(30), ratio=0.1), 20, 30)
    reason = shard.check(payload)
    assert reason is not None and reason.code == code, reason


def test_a_dense_part_of_the_wrong_length_is_rejected():
    shard = DensePart(make_codec("identity", FlatLayout.single(30)), 10, 20)
    assert shard.check(Payload("identity", {"values": torch.ones(10)})) is None
    reason = shard.check(Payload("identity", {"values": torch.ones(30)}))
    assert reason is not None and reason.code == "shape"


def test_a_shard_codec_only_decodes():
    shard = part_codec(make_codec("topk", LAYOUT, ratio=0.1), 0, 10)
    with pytest.raises(NotImplementedError, match="only decodes"):
        shard.encode(torch.zeros(10), 0)
