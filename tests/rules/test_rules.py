import pytest
import torch

from asyncsgd.codecs import ErrorFeedback, make_codec
from asyncsgd.rules import REMEDIES, ApplyContext, ServerRule, parse_remedies
from asyncsgd.rules.sgd import SGD, Momentum
from asyncsgd.rules.staleness import StalenessLR
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Update

D = 50


def grads(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(D, generator=g) for _ in range(n)]


def ctx(tau: int) -> ApplyContext:
    return ApplyContext(learner=0, tau=tau, version=10, num_learners=4)


def run_rule(rule: ServerRule, gs, taus) -> torch.Tensor:
    x = torch.ones(D)
    state = rule.init(x, 4)
    for g, tau in zip(gs, taus, strict=True):
        rule.apply(x, Update(g.clone(), D), state, ctx(tau))
    return x


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_equals_torch_sgd(nesterov):
    gs = grads(6)
    x = run_rule(ServerRule(Momentum(0.9, nesterov), 0.05), gs, [0] * 6)
    p = torch.nn.Parameter(torch.ones(D))
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=nesterov, foreach=False)
    for g in gs:
        p.grad = g.clone()
        opt.step()
    assert torch.equal(x, p.detach())


def test_sparse_update_touches_only_its_coordinates():
    x = torch.zeros(D)
    SGD().step(
        x, Update(torch.tensor([2.0, -4.0]), D, indices=torch.tensor([3, 7], dtype=torch.int32)), None, 0.5
    )
    expected = torch.zeros(D)
    expected[3], expected[7] = -1.0, 2.0
    assert torch.equal(x, expected)


def test_staleness_lr_equals_downpour_when_tau_at_most_one():
    gs = grads(8)
    taus = [0, 1, 1, 0, 1, 0, 0, 1]
    plain = run_rule(ServerRule(SGD(), 0.1), gs, taus)
    aware = run_rule(ServerRule(SGD(), 0.1, [StalenessLR()]), gs, taus)
    assert torch.equal(plain, aware)


@pytest.mark.parametrize("tau", [2, 3, 17])
def test_staleness_lr_divides_rate_by_tau(tau):
    rule = ServerRule(SGD(), 0.3, [StalenessLR()])
    x = torch.zeros(D)
    g = torch.ones(D)
    lr = rule.apply(x, Update(g.clone(), D), rule.init(x, 4), ctx(tau))
    assert lr == pytest.approx(0.3 / tau)
    torch.testing.assert_close(x, torch.full((D,), -0.3 / tau))


def test_remedy_spec_parsing():
    assert parse_remedies("none") == []
    assert parse_remedies("staleness_lr") == ["staleness_lr"]
    assert parse_remedies("a + b,c") == ["a", "b", "c"]
    assert "staleness_lr" in REMEDIES


@pytest.mark.parametrize("chain", ["a+", "+a", "a++b", "a,,b", "a+ +b", "", "none+a"])
def test_a_remedy_chain_with_an_empty_or_none_link_is_refused(chain):
    with pytest.raises(ValueError, match="remed"):
        parse_remedies(chain)


def test_error_feedback_on_g_equals_stich_memory_on_lr_times_g_at_constant_rate():
    """Docs claim: storing g (ours) or γ·g (Stich et al.) is the same algorithm at constant γ."""
    layout = FlatLayout.single(D)
    codec = make_codec("topk", layout, ratio=0.1)
    lr, gs = 0.05, grads(30, seed=4)
    ours_x, ef = torch.ones(D), ErrorFeedback(codec)
    memory = ef.init_state()
    stich_x, stich_m = torch.ones(D), torch.zeros(D)
    for step, g in enumerate(gs):
        payload, memory = ef.encode(g, memory, seed=step)
        codec.decode(payload).add_to(ours_x, alpha=-lr)
        stich_m += lr * g
        out = codec.decode(codec.encode(stich_m, seed=step)).dense()
        stich_x -= out
        stich_m -= out
    torch.testing.assert_close(ours_x, stich_x, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lr * memory, stich_m, rtol=1e-5, atol=1e-6)
