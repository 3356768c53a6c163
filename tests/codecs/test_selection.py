"""TopKSelector against a reference sort: ties, non-finite values, every k, every code path."""

from __future__ import annotations

import numpy as np
import pytest

from asyncsgd.codecs.selection import TopKSelector, magnitude_key, magnitudes


def reference(x: np.ndarray, k: int) -> np.ndarray:
    """Ascending positions of the k largest magnitude keys, ties to the earliest positions."""
    keys = magnitudes(x).astype(np.int64)
    order = np.argsort(-keys, kind="stable")
    return np.sort(order[: max(0, min(k, x.size))])


def vector(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "ties":  # few distinct magnitudes, both signs, signed zeros
        x = rng.integers(-4, 5, n).astype(np.float32)
        x[rng.random(n) < 0.1] = -0.0
        return x
    x = (rng.standard_normal(n) * rng.exponential(size=n)).astype(np.float32)
    bad = rng.choice(n, size=min(n, 1 + n // 997), replace=False)
    x[bad] = rng.choice(np.array([np.nan, np.inf, -np.inf, -np.nan], dtype=np.float32), bad.size)
    return x


KINDS = ("normal", "ties", "non_finite")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 7, 5_000, 40_000, 300_001])
def test_select_equals_the_reference_for_every_kind_of_k(kind, n):
    rng = np.random.default_rng(n)
    x = vector(rng, n, kind)
    selector = TopKSelector(chunk=1 << 12)  # several chunks even at the smaller sizes
    ks = {0, 1, 2, n // 1000, n // 100, n // 10, n // 4, n // 2, n - 1, n, n + 3}
    for k in sorted(k for k in ks if k >= 0):
        got = selector.select(x, k)
        assert got.dtype == np.int64
        assert np.array_equal(got, reference(x, k)), (kind, n, k)


@pytest.mark.parametrize("seed", range(6))
def test_select_equals_the_reference_on_random_shapes(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(20_000, 120_000))
    x = vector(rng, n, KINDS[seed % 3])
    if seed >= 3:  # mass in one block the strided sample mostly misses
        x[:] = 0.0
        x[n // 3 : n // 3 + 700] = rng.standard_normal(700).astype(np.float32)
    k = int(rng.integers(1, n // 20))
    assert np.array_equal(TopKSelector(chunk=int(rng.integers(1, 8)) << 12).select(x, k), reference(x, k))


def test_non_finite_values_sort_above_every_finite_value():
    x = np.full(50_000, 1e30, dtype=np.float32)
    x[[3, 30_000, 49_999]] = [np.nan, -np.inf, np.inf]
    assert np.array_equal(TopKSelector().select(x, 3), [3, 30_000, 49_999])


@pytest.mark.parametrize("n", [5, 70_000])
def test_at_least_returns_every_index_at_or_above_the_key(n):
    x = vector(np.random.default_rng(n), n, "non_finite")
    key = magnitude_key(0.7)
    want = np.flatnonzero(magnitudes(x) >= key)
    got = TopKSelector(chunk=1 << 12).at_least(x, key)
    assert got.dtype == np.int64 and np.array_equal(got, want)


def test_select_rejects_other_dtypes():
    with pytest.raises(TypeError, match="float32"):
        TopKSelector().select(np.ones(10), 1)
