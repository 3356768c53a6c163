import math

import pytest
import torch

from asyncsgd.codecs import make_codec
from asyncsgd.core.server import ParameterServer
from asyncsgd.rules import ServerRule
from asyncsgd.rules.sgd import SGD, Momentum
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Push

D = 10


def server(learners: int = 3, codec: str = "identity", **kw) -> ParameterServer:
    layout = FlatLayout.single(D)
    return ParameterServer(torch.zeros(D), make_codec(codec, layout, **kw), ServerRule(SGD(), 0.5), learners)


def dense(learner: int, version: int, values: torch.Tensor) -> Push:
    return Push(learner, version, Payload("identity", {"values": values}))


def test_tau_is_version_arithmetic_and_sgd_applies():
    s = server()
    _, v0 = s.pull(0)
    _, v1 = s.pull(1)
    r0 = s.apply(dense(0, v0, torch.ones(D)))
    r1 = s.apply(dense(1, v1, torch.ones(D)))
    assert (r0.tau, r1.tau) == (0, 1)
    assert (r0.version, r1.version) == (1, 2)
    assert torch.equal(s.params, torch.full((D,), -1.0))
    assert r1.lr == 0.5 and r1.nbytes == 4 * D
    assert r0.grad_norm == pytest.approx(math.sqrt(D))


def test_pull_returns_live_parameters_and_version():
    s = server()
    s.apply(dense(0, 0, torch.ones(D)))
    params, version = s.pull(2)
    assert version == 1 and params.data_ptr() == s.params.data_ptr()


@pytest.mark.parametrize(
    ("push", "code"),
    [
        (dense(0, 0, torch.tensor([float("nan")] + [0.0] * (D - 1))), "non_finite"),
        (dense(0, 0, torch.tensor([float("inf")] + [0.0] * (D - 1))), "non_finite"),
        (dense(0, 0, torch.ones(D + 1)), "shape"),
        (dense(0, 0, torch.ones(2, D // 2)), "shape"),
        (dense(0, 0, torch.ones(D, dtype=torch.float64)), "dtype"),
        (dense(7, 0, torch.ones(D)), "unknown_learner"),
        (dense(-1, 0, torch.ones(D)), "unknown_learner"),
        (dense(0, 5, torch.ones(D)), "version"),
        (Push(0, 0, Payload("topk", {"values": torch.ones(D)})), "codec"),
        (Push(0, 0, Payload("identity", {"vals": torch.ones(D)})), "shape"),
    ],
)
def test_bad_push_is_rejected_counted_and_changes_nothing(push, code):
    s = server()
    s.apply(dense(1, 0, torch.ones(D)))
    before, version = s.params.clone(), s.version
    record = s.apply(push)
    assert not record.accepted and not record.applied
    assert record.reason and record.code == code
    assert torch.equal(s.params, before) and s.version == version
    assert s.rejected == {push.learner: {code: 1}}
    assert s.rejected_total == 1


def test_sparse_payload_index_out_of_range_rejected():
    s = server(codec="topk", ratio=0.2)
    bad = Push(
        0, 0, Payload("topk", {"values": torch.ones(2), "indices": torch.tensor([1, D], dtype=torch.int32)})
    )
    record = s.apply(bad)
    assert not record.accepted and "index" in record.reason
    assert torch.equal(s.params, torch.zeros(D))


def test_apply_round_averages_and_bumps_version_once():
    s = server(learners=2)
    records = s.apply_round([dense(0, 0, torch.ones(D)), dense(1, 0, 3 * torch.ones(D))])
    assert [r.version for r in records] == [1, 1]
    assert [r.tau for r in records] == [0, 0]
    assert torch.allclose(s.params, torch.full((D,), -1.0))


def test_apply_round_skips_invalid_pushes():
    s = server(learners=2)
    nan = torch.full((D,), float("nan"))
    records = s.apply_round([dense(0, 0, nan), dense(1, 0, 2 * torch.ones(D))])
    assert [r.accepted for r in records] == [False, True]
    assert torch.allclose(s.params, torch.full((D,), -1.0))


def test_state_dict_round_trip():
    s = server()
    s.apply(dense(0, 0, torch.ones(D)))
    s.apply(dense(9, 0, torch.ones(D)))
    t = server()
    t.load_state_dict(s.state_dict())
    assert t.version == s.version and torch.equal(t.params, s.params) and t.rejected == s.rejected


def test_constructor_checks():
    layout = FlatLayout.single(D)
    with pytest.raises(ValueError, match="built for"):
        ParameterServer(torch.zeros(D + 1), make_codec("identity", layout), ServerRule(SGD(), 0.1), 1)
    with pytest.raises(ValueError, match="lr"):
        ServerRule(SGD(), 0.0)


def test_record_names_the_changed_coordinates_only_when_the_rule_keeps_to_them():
    layout = FlatLayout.single(D)
    g = torch.arange(1.0, D + 1)
    topk = make_codec("topk", layout, ratio=0.3)
    sgd = ParameterServer(torch.zeros(D), topk, ServerRule(SGD(), 0.5), 1)
    record = sgd.apply(Push(0, 0, topk.encode(g, 0)))
    assert sorted(record.support.tolist()) == [7, 8, 9]
    assert torch.equal(torch.nonzero(sgd.params).flatten(), torch.tensor([7, 8, 9]))
    assert server().apply(dense(0, 0, g)).support is None  # dense: every coordinate
    momentum = ParameterServer(torch.zeros(D), topk, ServerRule(Momentum(0.9), 0.5), 1)
    assert momentum.apply(Push(0, 0, topk.encode(g, 0))).support is None
    rejected = sgd.apply(Push(0, 5, topk.encode(g, 0)))  # a version from the future
    assert not rejected.accepted and rejected.support is None


@pytest.mark.parametrize(
    "values, rejected",
    [
        ([1.0, 2.0, 3.0], False),
        ([1e30, -1e30, 2e38], False),  # finite, though the squared norm overflows float32
        ([1e30, float("nan"), 0.0], True),
        ([0.0, 1.0, float("-inf")], True),
        ([float("inf"), float("-inf"), 1.0], True),  # inf · inf + inf · inf is inf, not nan
    ],
    ids=["small", "overflowing", "nan", "minus-inf", "both-infs"],
)
def test_non_finite_is_exact_whatever_the_squared_norm(values, rejected):
    push = dense(0, 0, torch.tensor(values, dtype=torch.float32))
    reason = ParameterServer.non_finite(push)
    assert (reason is not None) == rejected
    if rejected:
        assert reason.code == "non_finite" and "'values'" in reason.message


def test_a_finite_push_with_an_overflowing_norm_is_applied():
    s = server()
    values = torch.full((D,), 1e30)
    record = s.apply(dense(0, 0, values))
    assert record.accepted and record.applied and math.isinf(record.grad_norm)
    assert torch.equal(s.params, torch.full((D,), -0.5e30))
