"""Each remedy and server optimizer against its published rule, written out independently."""

from __future__ import annotations

import pytest
import torch

from asyncsgd.rules import ApplyContext, ServerRule
from asyncsgd.rules.adagrad import Adagrad
from asyncsgd.rules.async_momentum import AsyncMomentum, explicit_momentum
from asyncsgd.rules.dc_asgd import DCASGD, EPSILON, DCASGDAdaptive
from asyncsgd.rules.drop_stale import DropStale
from asyncsgd.rules.sgd import SGD, Momentum
from asyncsgd.rules.staleness import StalenessLRPlusOne
from asyncsgd.vocabulary.messages import Update

D = 40


def vec(seed: int) -> torch.Tensor:
    return torch.randn(D, generator=torch.Generator().manual_seed(seed))


def ctx(learner: int, tau: int, p: int = 2) -> ApplyContext:
    return ApplyContext(learner=learner, tau=tau, version=0, num_learners=p)


@pytest.mark.parametrize("sparse", [False, True])
def test_dc_asgd_compensates_with_the_backup_of_the_pulling_learner(sparse):
    lam, lr = 0.3, 0.1
    rule = ServerRule(SGD(), lr, [DCASGD(lam)])
    w0 = vec(0)
    x = w0.clone()
    state = rule.init(x, 2)
    rule.on_pull(state, 0, x)  # learner 0 pulls w0 …
    g1, g0 = vec(1), vec(2)
    rule.on_pull(state, 1, x)
    rule.apply(x, Update(g1.clone(), D), state, ctx(1, 0))  # … learner 1's push moves the server
    w1 = x.clone()
    if sparse:
        idx = torch.tensor([3, 9, 27], dtype=torch.int32)
        update = Update(g0[idx.long()].clone(), D, indices=idx)
        g0 = torch.zeros(D).index_copy_(0, idx.long(), g0[idx.long()])
    else:
        update = Update(g0.clone(), D)
    rule.apply(x, update, state, ctx(0, 1))
    expected = w1 - lr * (g0 + lam * g0 * g0 * (w1 - w0))
    torch.testing.assert_close(x, expected, rtol=1e-6, atol=1e-7)


def test_dc_asgd_adaptive_uses_the_running_mean_square():
    lam0, m, lr = 2.0, 0.9, 0.05
    rule = ServerRule(SGD(), lr, [DCASGDAdaptive(lam0, m)])
    x = vec(0)
    state = rule.init(x, 2)
    backup = x.clone()
    rule.on_pull(state, 0, x)
    mean_square = torch.zeros(D)
    for step in range(4):
        g = vec(10 + step)
        mean_square = m * mean_square + (1 - m) * g * g
        lam = lam0 / torch.sqrt(mean_square + EPSILON)
        expected = x - lr * (g + lam * g * g * (x - backup))
        rule.apply(x, Update(g.clone(), D), state, ctx(0, step))
        torch.testing.assert_close(x, expected, rtol=1e-5, atol=1e-6)


def test_dc_asgd_leaves_a_synchronous_round_unchanged():
    remedy = DCASGD(1.0)
    x = vec(0)
    state = remedy.init(x, 3)
    g = vec(1)
    out = remedy.transform(Update(g.clone(), D), state, x + 5.0, ApplyContext(-1, 0, 0, 3))
    assert torch.equal(out.dense(), g)


def test_drop_stale_keeps_the_bound_and_drops_beyond_it():
    rule = ServerRule(SGD(), 0.1, [DropStale(3)])
    x = torch.zeros(D)
    state = rule.init(x, 2)
    assert rule.apply(x, Update(torch.ones(D), D), state, ctx(0, 3)) == pytest.approx(0.1)
    before = x.clone()
    assert rule.apply(x, Update(torch.ones(D), D), state, ctx(0, 4)) is None
    assert torch.equal(x, before)


@pytest.mark.parametrize("tau", [0, 1, 2, 9])
def test_staleness_lr_plus_one_divides_by_tau_plus_one(tau):
    rule = ServerRule(SGD(), 0.3, [StalenessLRPlusOne()])
    x = torch.zeros(D)
    assert rule.apply(x, Update(torch.ones(D), D), rule.init(x, 2), ctx(0, tau)) == pytest.approx(
        0.3 / (tau + 1)
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_adagrad_equals_torch_adagrad(sparse):
    gs = [vec(s) for s in range(8)]
    if sparse:
        idx = torch.tensor([1, 4, 5, 30], dtype=torch.int32)
        for g in gs:
            mask = torch.ones(D, dtype=torch.bool)
            mask[idx.long()] = False
            g[mask] = 0.0
    rule = ServerRule(Adagrad(1e-10), 0.2)
    x = torch.ones(D)
    state = rule.init(x, 1)
    for g in gs:
        update = Update(g[idx.long()].clone(), D, indices=idx) if sparse else Update(g.clone(), D)
        rule.apply(x, update, state, ctx(0, 0, 1))
    p = torch.nn.Parameter(torch.ones(D))
    opt = torch.optim.Adagrad([p], lr=0.2, eps=1e-10, foreach=False)
    for g in gs:
        p.grad = g.clone()
        opt.step()
    if sparse:
        torch.testing.assert_close(x, p.detach(), rtol=1e-6, atol=1e-7)
    else:
        assert torch.equal(x, p.detach())


@pytest.mark.parametrize(("p", "expected"), [(1, 0.9), (2, 0.8), (4, 0.6), (8, 0.2), (10, 0.0), (64, 0.0)])
def test_async_momentum_subtracts_the_implicit_momentum(p, expected):
    assert explicit_momentum(0.9, p) == pytest.approx(expected)
    # the total momentum of the combined recursion is the target while the explicit part is > 0
    implicit = 1 - 1 / p
    if expected > 0:
        assert 1 - (1 - expected) * (1 - implicit) == pytest.approx(0.9)


def test_async_momentum_is_heavy_ball_with_the_explicit_momentum():
    gs = [vec(s) for s in range(6)]
    a, b = torch.ones(D), torch.ones(D)
    ra, rb = ServerRule(AsyncMomentum(0.95, True, 4), 0.1), ServerRule(Momentum(0.8, True), 0.1)
    sa, sb = ra.init(a, 4), rb.init(b, 4)
    for g in gs:
        ra.apply(a, Update(g.clone(), D), sa, ctx(0, 3, 4))
        rb.apply(b, Update(g.clone(), D), sb, ctx(0, 3, 4))
    assert AsyncMomentum(0.95, True, 4).momentum == pytest.approx(0.8)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
