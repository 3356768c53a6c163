"""The quantisers and sampled sparsifiers: exact formulas, wire formats, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asyncsgd.codecs import bits, keep_count, make_codec, uniform
from asyncsgd.codecs.wangni import MagnitudeSampling
from asyncsgd.vocabulary.flat import FlatLayout
from tests.codecs.records import LAYOUT


def gaussian(n: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(n).astype(np.float32))


# -- bit formats ---------------------------------------------------------------------------------
@pytest.mark.parametrize("width", bits.WIDTHS)
@pytest.mark.parametrize("n", [1, 7, 8, 1001])
def test_codes_round_trip_at_every_width(width, n):
    rng = np.random.default_rng(n + width)
    padded = np.zeros(bits.padded_length(n, width), dtype=bits.code_dtype(width))
    padded[:n] = rng.integers(0, 2**width, n)
    codes = padded[:n]
    packed = bits.pack_codes(padded, width)
    assert packed.dtype == np.uint8 and packed.size == bits.packed_nbytes(n, width)
    assert np.array_equal(bits.unpack_codes(packed, width, n), codes)
    for lo, hi in [(0, n), (n // 3, n), (1, max(1, n - 2))]:
        assert np.array_equal(bits.unpack_codes_range(packed, width, lo, hi), codes[lo:hi])


def test_code_width_is_the_smallest_that_holds_the_levels():
    assert [bits.code_width(s) for s in (1, 2, 7, 8, 127, 128, 32767)] == [2, 4, 4, 8, 8, 16, 16]
    with pytest.raises(ValueError, match="levels"):
        bits.code_width(32768)


def test_expand_bits_places_both_values():
    rng = np.random.default_rng(0)
    flags = rng.integers(0, 2, 200_003).astype(bool)
    packed = np.packbits(flags, bitorder="little")
    out = np.empty(200_003 - 5, dtype=np.float32)
    bits.expand_bits(packed, 5, 200_003, 0.25, -3.0, out)
    assert np.array_equal(out, np.where(flags[5:], np.float32(-3.0), np.float32(0.25)))


@pytest.mark.parametrize("exponent", [0, 3, 7])
def test_uniforms_cover_their_interval_and_follow_the_seed(exponent):
    def draw(seed):
        return uniform.uniform_above(
            uniform.generator(seed), 100_001, exponent, np.empty(100_001, np.float32)
        )

    a, b, c = draw(3), draw(3), draw(4)
    base = 2.0**exponent
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= base and a.max() < base + 1.0
    u = a.astype(np.float64) - base
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert np.unique(a).size > min(50_000, 2 ** (22 - exponent))  # 23 − e random bits, not a coarse grid


# -- sign and 1-bit ------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_scaled_sign_is_mean_magnitude_times_sign(scope):
    x = gaussian(LAYOUT.size)
    x[3] = -0.0
    codec = make_codec("sign", LAYOUT, scope=scope)
    out = codec.decode(codec.encode(x, 0)).dense()
    ranges = [(0, LAYOUT.size)] if scope == "global" else [(s.offset, s.stop) for s in LAYOUT]
    for a, b in ranges:
        scale = x[a:b].double().abs().mean()
        expected = torch.where(torch.signbit(x[a:b]), -scale, scale)
        torch.testing.assert_close(out[a:b].double(), expected, rtol=1e-6, atol=0)
    assert float(out[3]) < 0  # −0.0 has its sign bit set


def test_efsign_is_sign_with_feedback():
    x = gaussian(LAYOUT.size)
    sign, efsign = make_codec("sign", LAYOUT), make_codec("efsign", LAYOUT)
    assert torch.equal(sign.decode(sign.encode(x, 0)).dense(), efsign.decode(efsign.encode(x, 0)).dense())
    assert efsign.caps.feedback and not sign.caps.feedback


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_onebit_decodes_to_the_mean_of_each_side(scope):
    x = gaussian(LAYOUT.size, 1) + 0.3
    codec = make_codec("onebit", LAYOUT, scope=scope)
    payload = codec.encode(x, 0)
    out = codec.decode(payload).dense()
    ranges = [(0, LAYOUT.size)] if scope == "global" else [(s.offset, s.stop) for s in LAYOUT]
    for a, b in ranges:
        part, neg = x[a:b].double(), x[a:b] < 0
        for side in (neg, ~neg):
            if side.any():
                torch.testing.assert_close(out[a:b][side].double(), part[side].mean().expand(int(side.sum())))
    assert payload.nbytes == math.ceil(LAYOUT.size / 8) + 8 * len(ranges)


def test_onebit_of_a_one_sided_vector_sends_zero_for_the_empty_side():
    codec = make_codec("onebit", FlatLayout.single(64))
    x = torch.arange(1.0, 65.0)
    assert torch.allclose(codec.decode(codec.encode(x, 0)).dense(), torch.full((64,), 32.5))


# -- QSGD and TernGrad ---------------------------------------------------------------------------
@pytest.mark.parametrize(("levels", "bucket"), [(1, 0), (7, 64), (100, 50), (1000, 0)])
def test_qsgd_rounds_each_coordinate_to_a_neighbouring_level(levels, bucket):
    x = gaussian(LAYOUT.size, 2)
    codec = make_codec("qsgd", LAYOUT, levels=levels, bucket=bucket)
    payload = codec.encode(x, seed=5)
    out = codec.decode(payload).dense().double()
    xd = x.double()
    size = bucket or LAYOUT.size
    for start in range(0, LAYOUT.size, size):
        part = xd[start : start + size]
        spacing = float(part.norm()) / levels
        level = out[start : start + size] / spacing
        assert torch.allclose(level, level.round(), atol=1e-3)  # an integer level …
        scaled = part / spacing  # … next to the exact ℓ
        assert bool(((level.round() - torch.floor(scaled)).abs() <= 1 + 1e-6).all())
        assert bool((level.round().abs() <= levels).all())
    width = bits.code_width(levels)
    rows = -(-LAYOUT.size // size)
    assert payload.nbytes == math.ceil(width * LAYOUT.size / 8) + 4 * rows


def test_qsgd_of_zero_is_zero_and_coordinates_at_the_norm_are_exact():
    codec = make_codec("qsgd", FlatLayout.single(100), levels=3, bucket=0)
    assert torch.equal(codec.decode(codec.encode(torch.zeros(100), 0)).dense(), torch.zeros(100))
    x = torch.zeros(100)
    x[17] = -4.0  # ℓ = −s exactly: never rounds away
    for seed in range(20):
        assert torch.equal(codec.decode(codec.encode(x, seed)).dense(), x)


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_terngrad_sends_three_values_per_group(scope):
    x = gaussian(LAYOUT.size, 3)
    x[10] = 40.0  # an outlier that clipping must cut
    codec = make_codec("terngrad", LAYOUT, clip=2.5, scope=scope)
    out = codec.decode(codec.encode(x, seed=1)).dense().double()
    ranges = [(0, LAYOUT.size)] if scope == "global" else [(s.offset, s.stop) for s in LAYOUT]
    for a, b in ranges:
        part = x[a:b].double()
        bound = min(float(part.abs().max()), 2.5 * float(part.std(unbiased=False)))
        values = set(np.round(out[a:b].numpy() / bound, 4).tolist())
        assert values <= {-1.0, 0.0, 1.0}
    assert float(out[10].abs()) < 40.0


def test_terngrad_with_clipping_is_unbiased_for_the_clipped_gradient():
    x = gaussian(LAYOUT.size, 4)
    x[[5, 300]] = torch.tensor([25.0, -30.0])
    codec = make_codec("terngrad", LAYOUT, clip=2.5)
    target = torch.from_numpy(codec.clipped(x.numpy())).double()
    draws = torch.stack([codec.decode(codec.encode(x, seed=s)).dense() for s in range(3000)]).double()
    variance_of_mean = float((draws - target).square().sum(1).mean()) / 3000
    assert float((draws.mean(0) - target).square().sum()) <= 2.0 * variance_of_mean
    assert float((draws.mean(0) - x.double()).square().sum()) > 10 * variance_of_mean  # x itself: biased


# -- threshold (Strom) ---------------------------------------------------------------------------
def test_threshold_sends_plus_minus_tau_where_the_magnitude_reaches_it():
    x = gaussian(LAYOUT.size, 5)
    x[7] = 1.0  # exactly τ: sent
    codec = make_codec("threshold", LAYOUT, threshold=1.0)
    payload = codec.encode(x, 0)
    update = codec.decode(payload)
    sent = (x.abs() >= 1.0).nonzero().flatten()
    assert torch.equal(update.indices.long(), sent)
    assert torch.equal(update.values, torch.where(x[sent] < 0, -1.0, 1.0))
    assert payload.nbytes == 4 * sent.numel() + 8
    assert payload.arrays["codes"].dtype == torch.int32


def test_threshold_below_tau_everywhere_sends_nothing_and_feedback_accumulates():
    codec = make_codec("threshold", FlatLayout.single(10), threshold=1.0)
    from asyncsgd.codecs import ErrorFeedback

    ef, memory, g = ErrorFeedback(codec), None, torch.full((10,), 0.3)
    sizes = []
    for step in range(4):
        payload, memory = ef.encode(g, memory, seed=step)
        sizes.append(payload.arrays["codes"].numel())
    assert sizes == [0, 0, 0, 10]  # 0.3 · 4 = 1.2 ≥ τ on the fourth push
    torch.testing.assert_close(memory, torch.full((10,), 0.2))


# -- gradient dropping and Wangni ----------------------------------------------------------------
def test_dropping_keeps_about_ratio_and_always_the_largest():
    n, ratio = 200_000, 0.01
    x = gaussian(n, 6)
    codec = make_codec("dropping", FlatLayout.single(n), ratio=ratio)
    for seed in range(3):
        idx = codec.encode(x, seed).arrays["indices"].long()
        kept = x.abs()[idx]
        dropped_max = x.abs().clone()
        dropped_max[idx] = 0
        assert float(kept.min()) >= float(dropped_max.max())  # a threshold: no kept value below a dropped one
        assert int(x.abs().argmax()) in set(idx.tolist())
        assert 0.7 * ratio * n < idx.numel() < 1.3 * ratio * n


def test_wangni_probabilities_sum_to_k_and_saturate_large_coordinates():
    n, ratio = 20_000, 0.05
    x = gaussian(n, 7)
    x[:50] = torch.linspace(500.0, 1000.0, 50) * (-1.0) ** torch.arange(50)  # kept surely, values exact
    codec = make_codec("wangni", FlatLayout.single(n), ratio=ratio)
    assert isinstance(codec, MagnitudeSampling)
    lam = codec.rate(x.numpy())
    k = keep_count(ratio, n)
    probabilities = np.minimum(1.0, lam * np.abs(x.numpy().astype(np.float64)))
    assert probabilities.sum() == pytest.approx(k, rel=1e-4)
    counts = []
    for seed in range(40):
        payload = codec.encode(x, seed)
        idx = payload.arrays["indices"].long()
        assert set(range(50)) <= set(idx.tolist())
        assert torch.equal(payload.arrays["values"][:50], x[:50])
        counts.append(idx.numel())
    assert np.mean(counts) == pytest.approx(k, rel=0.02)


def test_wangni_of_zero_sends_nothing():
    codec = make_codec("wangni", FlatLayout.single(100), ratio=0.1)
    payload = codec.encode(torch.zeros(100), 0)
    assert payload.nbytes == 0 and torch.equal(codec.decode(payload).dense(), torch.zeros(100))


@pytest.mark.parametrize("name", ["threshold", "dropping", "wangni"])
def test_variable_size_payloads_are_checked(name):
    params = {"threshold": 0.5} if name == "threshold" else {"ratio": 0.1}
    codec = make_codec(name, LAYOUT, **params)
    payload = codec.encode(gaussian(LAYOUT.size, 8), 0)
    assert codec.check(payload) is None
    key = "codes" if name == "threshold" else "indices"
    bad = dict(payload.arrays)
    bad[key] = torch.full_like(bad[key], 10**6)
    from asyncsgd.vocabulary.messages import Payload

    assert codec.check(Payload(payload.codec, bad, payload.scalars)).code == "index"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("terngrad", {"clip": 2.5}),
        ("qsgd", {"bucket": 0}),
        ("sign", {}),
        ("onebit", {}),
        ("wangni", {"ratio": 0.01}),
    ],
)
@pytest.mark.parametrize("position", [3, 200_000])
def test_non_finite_values_in_long_vectors_are_never_hidden(name, params, position):
    """Vectors longer than a cache chunk are encoded piece by piece; a NaN in any piece must
    still reach the server."""
    from asyncsgd.codecs.chunks import CHUNK

    n = 2 * CHUNK + 5
    x = gaussian(n, 9)
    x[min(position, n - 1)] = float("nan")
    codec = make_codec(name, FlatLayout.single(n), **params)
    update = codec.decode(codec.encode(x, seed=1))
    assert not math.isfinite(update.norm())
