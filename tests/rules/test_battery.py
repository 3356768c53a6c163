"""Generic properties every remedy and optimizer must have, checked for every record (records.py)."""

from __future__ import annotations

import pytest
import torch

from asyncsgd.config import RunConfig
from asyncsgd.rules import OPTIMIZERS, REMEDIES, ApplyContext, ServerRule
from asyncsgd.rules.sgd import SGD
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import names
from tests.rules.records import RECORDS, RuleRecord

CASES = pytest.mark.parametrize("rec", RECORDS, ids=[r.id for r in RECORDS])
D, P, LR = 97, 3, 0.1


def registry(kind: str):
    return REMEDIES if kind == "remedy" else OPTIMIZERS


def rule_of(rec: RuleRecord, **overrides) -> ServerRule:
    obj = registry(rec.kind).get(rec.name)(**{**rec.params, **overrides})
    return ServerRule(SGD(), LR, [obj]) if rec.kind == "remedy" else ServerRule(obj, LR)


def pushes(n: int, seed: int = 0, sparse: bool = False) -> list[tuple[Update, ApplyContext]]:
    """A deterministic stream of pushes from P learners with varied staleness (dense or sparse)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for t in range(n):
        values = torch.randn(D, generator=g) * (1 + t % 3)
        if sparse:
            idx = torch.randperm(D, generator=g)[: D // 5].sort().values.to(torch.int32)
            update = Update(values[idx.long()].clone(), D, indices=idx, scale=0.5 + (t % 2))
        else:
            update = Update(values, D, scale=0.5 + (t % 2))
        out.append((update, ApplyContext(learner=t % P, tau=(t * 7) % 6, version=t, num_learners=P)))
    return out


def run(rule: ServerRule, stream, pull_every: int = 2) -> tuple[torch.Tensor, list[float | None]]:
    """Apply a stream; learners pull (the on_pull hook) every few pushes, as engines would."""
    x = torch.linspace(-1, 1, D)
    state = rule.init(x, P)
    rates = []
    for t, (update, ctx) in enumerate(stream):
        if t % pull_every == 0:
            rule.on_pull(state, ctx.learner, x)
        rates.append(
            rule.apply(x, Update(update.values.clone(), D, update.indices, update.scale), state, ctx)
        )
    return x, rates


def test_every_registered_remedy_and_optimizer_has_a_record():
    assert {r.name for r in RECORDS if r.kind == "remedy"} == set(REMEDIES.names())
    assert {r.name for r in RECORDS if r.kind == "optimizer"} == set(OPTIMIZERS.names())


def test_every_rule_declares_settings_and_a_reference():
    keys = set(RunConfig.keys())
    for reg in (REMEDIES, OPTIMIZERS):
        for entry in reg:
            assert set(names(entry.factory.settings)) <= keys, entry.name
            assert entry.factory.reference and entry.factory.__doc__ and entry.summary, entry.name


@CASES
def test_same_inputs_same_parameters(rec):
    a, rates_a = run(rule_of(rec), pushes(12))
    b, rates_b = run(rule_of(rec), pushes(12))
    assert torch.equal(a, b) and rates_a == rates_b
    assert bool(torch.isfinite(a).all())


@CASES
def test_remedies_never_write_the_parameters(rec):
    if rec.kind != "remedy":
        pytest.skip("optimizers write the parameters")
    remedy = REMEDIES.get(rec.name)(**rec.params)
    x = torch.linspace(-1, 1, D)
    state = remedy.init(x, P)
    remedy.on_pull(state, 0, x)
    x.add_(0.25)
    before = x.clone()
    for update, ctx in pushes(6) + pushes(6, sparse=True):
        out = remedy.transform(update, state, x, ctx)
        assert torch.equal(x, before)
        if out is not None:
            assert out.size == D and out.values.dtype == torch.float32
            assert out.dense().shape == (D,)


@CASES
def test_sparse_push_equals_its_dense_equivalent(rec):
    sparse = pushes(10, seed=3, sparse=True)
    dense = [(Update(u.dense() / u.scale, D, scale=u.scale), c) for u, c in sparse]
    a, rates_a = run(rule_of(rec), sparse)
    b, rates_b = run(rule_of(rec), dense)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert [r is None for r in rates_a] == [r is None for r in rates_b]


@CASES
def test_lazy_scale_equals_scaled_values(rec):
    lazy = pushes(10, seed=4)
    eager = [(Update(u.values * u.scale, D), c) for u, c in lazy]
    torch.testing.assert_close(run(rule_of(rec), lazy)[0], run(rule_of(rec), eager)[0], rtol=1e-5, atol=1e-6)


@CASES
def test_neutral_settings_equal_plain_sgd(rec):
    if rec.neutral_taus is None:
        pytest.skip("no neutral setting")
    stream = [
        (u, ApplyContext(c.learner, rec.neutral_taus[i % len(rec.neutral_taus)], c.version, P))
        for i, (u, c) in enumerate(pushes(15) + pushes(15, seed=1, sparse=True))
    ]
    x, rates = run(rule_of(rec), stream)
    ref, ref_rates = run(ServerRule(SGD(), LR), stream)
    assert rates == ref_rates
    if rec.neutral_bitwise:
        assert torch.equal(x, ref)
    else:
        torch.testing.assert_close(x, ref, rtol=1e-6, atol=1e-6)


@CASES
def test_memory_is_reported(rec):
    rule = rule_of(rec)
    x = torch.zeros(D)
    state = rule.init(x, P)
    assert rule.memory_bytes(state) == eval(rec.memory, {"d": D, "p": P})


@CASES
def test_bad_parameters_raise_errors_naming_the_parameter(rec):
    for params in rec.bad_params:
        with pytest.raises(ValueError, match="|".join(params)):
            registry(rec.kind).get(rec.name)(**{**rec.params, **params})


@CASES
def test_a_rule_in_support_changes_only_the_pushed_coordinates(rec):
    """What engines rely on to refresh a learner's copy by the changed coordinates alone."""
    rule = rule_of(rec)
    if not rule.in_support:
        pytest.skip(f"{rule.name} may change coordinates a sparse push does not carry")
    x = torch.linspace(-1, 1, D)
    state = rule.init(x, P)
    for t, (update, ctx) in enumerate(pushes(12, sparse=True)):
        if t % 2 == 0:
            rule.on_pull(state, ctx.learner, x)
        before = x.clone()
        rule.apply(x, Update(update.values.clone(), D, update.indices, update.scale), state, ctx)
        outside = torch.ones(D, dtype=torch.bool)
        outside[update.indices.long()] = False
        assert torch.equal(x[outside], before[outside]), f"push {t} moved a coordinate it did not carry"


def test_momentum_is_not_in_support():
    """Its velocity keeps moving every coordinate it ever touched, so a sparse push is not local."""
    rule = ServerRule(OPTIMIZERS.get("momentum")(), LR)
    x = torch.linspace(-1, 1, D)
    state = rule.init(x, P)
    (first, ctx), (second, ctx2) = pushes(2, sparse=True)
    rule.apply(x, first, state, ctx)
    before = x.clone()
    rule.apply(x, second, state, ctx2)
    outside = torch.ones(D, dtype=torch.bool)
    outside[second.indices.long()] = False
    assert not rule.in_support
    assert not torch.equal(x[outside], before[outside])


@pytest.mark.parametrize("name", REMEDIES.names())
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_a_remedy_leaves_the_update_it_is_given_as_it_was(name, sparse):
    """Remedies compose as pure transforms: each returns the update, a new one, or None, and the
    one it was given keeps its values, indices and scale (a later remedy may still read it)."""
    remedy = REMEDIES.get(name)(**{k: getattr(RunConfig(), k) for k in names(REMEDIES.get(name).settings)})
    x = torch.linspace(-1, 1, D)
    state = remedy.init(x, P)
    for update, ctx in pushes(8, seed=3, sparse=sparse):
        remedy.on_pull(state, ctx.learner, x * 0.5)
        values = update.values.clone()
        indices = None if update.indices is None else update.indices.clone()
        scale = update.scale
        remedy.transform(update, state, x, ctx)
        assert update.scale == scale and torch.equal(update.values, values), (name, ctx.tau)
        assert (update.indices is None) == (indices is None)
        assert indices is None or torch.equal(update.indices, indices)
