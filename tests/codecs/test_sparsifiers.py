"""Top-k and random-k specifics: exact selection, k per scope, seeds on the wire."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asyncsgd.codecs import keep_count, make_codec
from asyncsgd.codecs.selection import TopKSelector
from asyncsgd.vocabulary.flat import FlatLayout
from tests.codecs.records import LAYOUT


def top_magnitudes(x: np.ndarray, k: int) -> np.ndarray:
    return np.sort(np.abs(x))[-k:]


@pytest.mark.parametrize("n", [10, 1000, 50_000, 300_000])
@pytest.mark.parametrize("ratio", [0.001, 0.01, 0.2, 0.5])
def test_selector_keeps_exactly_the_k_largest_magnitudes(n, ratio):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * rng.exponential(size=n)).astype(np.float32)
    k = keep_count(ratio, n)
    idx = TopKSelector().select(x, k)
    assert idx.size == k and np.unique(idx).size == k
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(np.sort(np.abs(x[idx])), top_magnitudes(x, k))


def test_selector_with_heavy_ties_and_constant_vector():
    x = np.ones(100_000, dtype=np.float32)
    x[::7] = -1.0
    idx = TopKSelector().select(x, 1234)
    assert idx.size == 1234
    x = np.zeros(100_000, dtype=np.float32)
    x[5] = 2.0
    assert 5 in TopKSelector().select(x, 10)


def test_selector_recovers_when_sample_underestimates():
    # all mass in one block the strided sample mostly misses: the threshold must be lowered
    x = np.zeros(200_000, dtype=np.float32)
    x[1000:1500] = np.arange(1, 501, dtype=np.float32)
    idx = TopKSelector().select(x, 400)
    assert np.array_equal(np.sort(np.abs(x[idx])), top_magnitudes(x, 400))


def test_selector_puts_non_finite_values_first():
    x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    x[[17, 99_000]] = [np.nan, -np.inf]
    idx = TopKSelector().select(x, 100)
    assert {17, 99_000} <= set(idx.tolist())


def test_topk_payload_keeps_the_largest_and_counts_bytes():
    x = torch.randn(LAYOUT.size)
    codec = make_codec("topk", LAYOUT, ratio=0.1)
    payload = codec.encode(x, seed=0)
    k = keep_count(0.1, LAYOUT.size)
    assert payload.arrays["indices"].dtype == torch.int32
    assert payload.nbytes == k * 4 + k * 4
    kept = set(payload.arrays["indices"].tolist())
    dropped = [i for i in range(LAYOUT.size) if i not in kept]
    assert float(x.abs()[list(kept)].min()) >= float(x.abs()[dropped].max())
    assert torch.equal(payload.arrays["values"], x[payload.arrays["indices"].long()])


def test_layer_scope_keeps_k_in_every_layer():
    x = torch.randn(LAYOUT.size)
    x[:320] *= 1000  # the first layer dominates: a global top-k would take nothing elsewhere
    codec = make_codec("topk", LAYOUT, ratio=0.1, scope="layer")
    idx = codec.encode(x, seed=0).arrays["indices"].long()
    for seg in LAYOUT:
        inside = ((idx >= seg.offset) & (idx < seg.stop)).sum().item()
        assert inside == keep_count(0.1, seg.numel)
    glob = make_codec("topk", LAYOUT, ratio=0.1).encode(x, seed=0).arrays["indices"].long()
    assert bool((glob < 320).all())


def test_keep_count_rounding():
    assert keep_count(0.29, 100) == 29
    assert keep_count(0.001, 10) == 1
    assert keep_count(1.0, 7) == 7


def test_randomk_sends_only_values_and_seed():
    codec = make_codec("randomk", LAYOUT, ratio=0.1)
    payload = codec.encode(torch.randn(LAYOUT.size), seed=42)
    assert set(payload.arrays) == {"values"} and payload.scalars == {"seed": 42}
    assert payload.nbytes == 4 * codec.k + 8


def test_randomk_indices_are_uniform():
    layout = FlatLayout.single(20)
    codec = make_codec("randomk", layout, ratio=0.25)
    hits = np.zeros(20)
    for seed in range(4000):
        hits[codec.indices(seed)] += 1
    expected = 4000 * 5 / 20
    assert np.abs(hits - expected).max() < 5 * np.sqrt(expected)
