"""Generic properties every codec must have, checked for every record (see records.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asyncsgd.codecs import CODECS, ErrorFeedback, make_codec
from asyncsgd.core.server import ParameterServer
from asyncsgd.rules import ServerRule
from asyncsgd.rules.sgd import SGD
from asyncsgd.vocabulary.messages import Push
from tests.codecs.records import LAYOUT, RECORDS, CodecRecord

CASES = pytest.mark.parametrize("rec", RECORDS, ids=[r.id for r in RECORDS])


def codec_of(rec: CodecRecord):
    return make_codec(rec.name, LAYOUT, **rec.params)


def vector(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(LAYOUT.size, generator=g) * torch.linspace(0.1, 3.0, LAYOUT.size)


def test_every_registered_codec_has_a_record():
    assert {r.name for r in RECORDS} == set(CODECS.names())


@CASES
def test_round_trip_shape_and_dtype(rec):
    codec = codec_of(rec)
    out = codec.decode(codec.encode(vector(), seed=1)).dense()
    assert out.shape == (LAYOUT.size,) and out.dtype == torch.float32


@CASES
def test_payload_is_well_formed_and_owns_its_arrays(rec):
    codec = codec_of(rec)
    x = vector()
    payload = codec.encode(x, seed=3)
    assert codec.check(payload) is None
    before = codec.decode(payload).dense()
    x.fill_(123.0)  # a learner reuses its gradient buffer while the push is in flight
    assert torch.equal(codec.decode(payload).dense(), before)


@CASES
def test_nbytes_counts_what_the_payload_carries(rec):
    codec = codec_of(rec)
    payload = codec.encode(vector(), seed=3)
    carried = sum(a.numel() * a.element_size() for a in payload.arrays.values()) + 8 * len(payload.scalars)
    assert payload.nbytes == carried
    if codec.caps.fixed_size:
        assert codec.estimate_nbytes() == payload.nbytes
        assert codec.encode(vector(7) * 1e3, seed=9).nbytes == payload.nbytes
    if rec.compresses:
        assert payload.nbytes < codec.dense_nbytes()
    else:
        assert payload.nbytes >= codec.dense_nbytes()


@CASES
def test_bit_formats_are_really_packed(rec):
    if rec.bits_per_coordinate is None:
        pytest.skip("not a bit format")
    codec = codec_of(rec)
    payload = codec.encode(vector(), seed=3)
    packed = sum(a.numel() for a in payload.arrays.values() if a.dtype == torch.uint8)
    assert packed == math.ceil(rec.bits_per_coordinate * LAYOUT.size / 8)
    others = payload.nbytes - packed
    assert others <= 4 * 2 * (len(LAYOUT) + LAYOUT.size // 64 + 1)  # a float or two per group/bucket


@CASES
def test_decoding_needs_no_state_of_the_encoder(rec):
    learner_side, server_side = codec_of(rec), codec_of(rec)
    for seed in range(3):
        payload = learner_side.encode(vector(seed), seed=seed)
        a, b = learner_side.decode(payload).dense(), server_side.decode(payload).dense()
        assert torch.equal(a, b)


@CASES
def test_deterministic_under_a_seed(rec):
    codec = codec_of(rec)
    a, b = codec.encode(vector(), seed=11), codec.encode(vector(), seed=11)
    assert torch.equal(codec.decode(a).dense(), codec.decode(b).dense())
    assert rec.randomised or not codec.caps.needs_seed
    if rec.randomised:
        differs = [
            not torch.equal(codec.decode(a).dense(), codec.decode(codec.encode(vector(), s)).dense())
            for s in (12, 13, 14)
        ]
        assert any(differs)


@CASES
def test_global_rng_untouched(rec):
    codec = codec_of(rec)
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    codec.decode(codec.encode(vector(), seed=5)).dense()
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()


@CASES
def test_unbiased_codecs_are_unbiased_in_monte_carlo(rec):
    """For n independent draws of an unbiased C, E‖mean − x‖² = E‖C(x) − x‖²/n exactly; a bias b
    adds ‖b‖², which does not shrink with n. Per coordinate, the mean must lie within 5 standard
    errors wherever the draws vary."""
    codec = codec_of(rec)
    if not codec.caps.unbiased:
        pytest.skip("not declared unbiased")
    x, n = vector(), 4000
    draws = torch.stack([codec.decode(codec.encode(x, seed=s)).dense() for s in range(n)]).double()
    mean = draws.mean(0)
    variance_of_mean = float((draws - x.double()).square().sum(1).mean()) / n
    assert float((mean - x).square().sum()) <= 2.0 * variance_of_mean + 1e-12
    stderr = draws.std(0) / np.sqrt(n)
    varies = stderr > 0
    assert bool(((mean - x).abs()[varies] <= 5 * stderr[varies] + 1e-6).all())


@CASES
def test_contractive_codecs_contract(rec):
    codec = codec_of(rec)
    delta = codec.caps.contraction
    if delta is None:
        pytest.skip("not declared contractive")
    x = vector()
    if codec.caps.needs_seed:  # contraction in expectation over the seed
        n = 2000
        err = (
            sum(float((x - codec.decode(codec.encode(x, seed=s)).dense()).square().sum()) for s in range(n))
            / n
        )
        assert err <= (1 - delta) * float(x.square().sum()) * 1.05
    else:
        for seed in range(5):
            x = vector(seed)
            err = float((x - codec.decode(codec.encode(x, seed=0)).dense()).square().sum())
            assert err <= (1 - delta) * float(x.square().sum()) + 1e-6


@CASES
def test_error_feedback_identity_holds_exactly(rec):
    codec = codec_of(rec)
    ef = ErrorFeedback(codec)
    memory = ef.init_state()
    for step in range(4):
        g = vector(step)
        compensated = memory + g
        payload, memory = ef.encode(g, memory, seed=step)
        sent = codec.decode(payload).dense()
        if rec.exact_feedback:
            assert torch.equal(sent + memory, compensated)
        else:
            scale = max(1.0, float(sent.abs().max()))  # (v − s) + s rounds at the scale of s
            torch.testing.assert_close(sent + memory, compensated, rtol=0, atol=1e-6 * scale)


@CASES
def test_bad_parameters_raise_errors_naming_the_parameter(rec):
    for params in rec.bad_params:
        with pytest.raises(ValueError, match="|".join(params)):
            make_codec(rec.name, LAYOUT, **{**rec.params, **params})


@CASES
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input_reaches_the_server_and_is_rejected(rec, bad):
    if not rec.forwards_non_finite:
        pytest.skip("may not select the bad coordinate")
    codec = codec_of(rec)
    server = ParameterServer(torch.zeros(LAYOUT.size), codec_of(rec), ServerRule(SGD(), 0.1), 1)
    for position in (0, 330, LAYOUT.size - 1):
        x = vector()
        x[position] = bad
        record = server.apply(Push(0, 0, codec.encode(x, seed=position)))
        assert not record.accepted and record.reason
    assert server.version == 0 and torch.equal(server.params, torch.zeros(LAYOUT.size))


def test_every_codec_declares_its_settings_and_reference():
    from asyncsgd.config import RunConfig
    from asyncsgd.vocabulary.settings import names

    keys = set(RunConfig.keys())
    for entry in CODECS:
        cls = entry.factory
        taken = set(names(cls.settings))
        assert taken <= keys, f"{entry.name}: {taken - keys} are not settings"
        assert cls.reference and cls.__doc__ and entry.summary
        codec = make_codec(entry.name, LAYOUT, **{k: getattr(RunConfig(), k) for k in taken})
        assert codec.caps.feedback == cls.feedback
