"""Generic properties every codec must have, checked for every record (see records.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asyncsgd.codecs import CODECS, ErrorFeedback, make_codec
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
    if rec.params.get("ratio", 1.0) < 1.0:
        assert payload.nbytes < codec.dense_nbytes()


@CASES
def test_deterministic_under_a_seed(rec):
    codec = codec_of(rec)
    a, b = codec.encode(vector(), seed=11), codec.encode(vector(), seed=11)
    assert torch.equal(codec.decode(a).dense(), codec.decode(b).dense())
    if codec.caps.needs_seed:
        c = codec.encode(vector(), seed=12)
        assert not torch.equal(codec.decode(a).dense(), codec.decode(c).dense())


@CASES
def test_global_rng_untouched(rec):
    codec = codec_of(rec)
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    codec.decode(codec.encode(vector(), seed=5)).dense()
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()


@CASES
def test_unbiased_codecs_are_unbiased_in_monte_carlo(rec):
    codec = codec_of(rec)
    if not codec.caps.unbiased:
        pytest.skip("not declared unbiased")
    x, n = vector(), 4000
    draws = torch.stack([codec.decode(codec.encode(x, seed=s)).dense() for s in range(n)])
    mean, stderr = draws.mean(0), draws.std(0) / np.sqrt(n)
    assert bool(((mean - x).abs() <= 5 * stderr + 1e-5).all())


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
            torch.testing.assert_close(sent + memory, compensated, rtol=1e-6, atol=1e-6)


@CASES
def test_bad_parameters_raise_clear_errors(rec):
    for params in rec.bad_params:
        with pytest.raises(ValueError, match=r"ratio|scope"):
            make_codec(rec.name, LAYOUT, **params)
