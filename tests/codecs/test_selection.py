"""TopKSelector against a reference sort: ties, non-finite values, every k, every code path, with
and without the compiled kernels (which must give the same indices)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from asyncsgd.codecs import selection
from asyncsgd.codecs.selection import TopKSelector, magnitude_key, magnitudes

PATHS = [False] + ([True] if importlib.util.find_spec("numba") else [])
"""``compiled`` settings to test: the numpy path always, the numba kernels where numba is installed."""


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


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 7, 5_000, 40_000, 300_001])
def test_select_equals_the_reference_for_every_kind_of_k(kind, n, compiled):
    rng = np.random.default_rng(n)
    x = vector(rng, n, kind)
    selector = TopKSelector(chunk=1 << 12, compiled=compiled)  # several chunks even at the smaller sizes
    ks = {0, 1, 2, n // 1000, n // 100, n // 10, n // 4, n // 2, n - 1, n, n + 3}
    for k in sorted(k for k in ks if k >= 0):
        got = selector.select(x, k)
        assert got.dtype == np.int64
        assert np.array_equal(got, reference(x, k)), (kind, n, k)


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("seed", range(6))
def test_select_equals_the_reference_on_random_shapes(seed, compiled):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(20_000, 120_000))
    x = vector(rng, n, KINDS[seed % 3])
    if seed >= 3:  # mass in one block the strided sample mostly misses
        x[:] = 0.0
        x[n // 3 : n // 3 + 700] = rng.standard_normal(700).astype(np.float32)
    k = int(rng.integers(1, n // 20))
    selector = TopKSelector(chunk=int(rng.integers(1, 8)) << 12, compiled=compiled)
    assert np.array_equal(selector.select(x, k), reference(x, k))


@pytest.mark.parametrize("compiled", PATHS)
def test_non_finite_values_sort_above_every_finite_value(compiled):
    x = np.full(50_000, 1e30, dtype=np.float32)
    x[[3, 30_000, 49_999]] = [np.nan, -np.inf, np.inf]
    assert np.array_equal(TopKSelector(compiled=compiled).select(x, 3), [3, 30_000, 49_999])


@pytest.mark.parametrize("compiled", PATHS)
def test_equal_magnitudes_everywhere_keep_the_earliest(compiled):
    """Every element passes the threshold: more candidates than the first scratch buffers hold."""
    x = np.ones(100_003, dtype=np.float32)
    x[::2] = -1.0
    selector = TopKSelector(compiled=compiled)
    for k in (10, 30_000):
        assert np.array_equal(selector.select(x, k), np.arange(k))


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("n", [5, 70_000])
def test_at_least_returns_every_index_at_or_above_the_key(n, compiled):
    x = vector(np.random.default_rng(n), n, "non_finite")
    key = magnitude_key(0.7)
    want = np.flatnonzero(magnitudes(x) >= key)
    selector = TopKSelector(chunk=1 << 12, compiled=compiled)
    for _ in range(2):  # the second call reuses the scratch buffers
        got = selector.at_least(x, key)
        assert got.dtype == np.int64 and np.array_equal(got, want)


def test_without_numba_the_numpy_path_runs_and_compiled_is_refused(monkeypatch):
    monkeypatch.setattr(selection, "compiled_kernels", lambda: None)
    x = vector(np.random.default_rng(3), selection.COMPILED_MIN + 5, "normal")
    assert np.array_equal(TopKSelector().select(x, 600), reference(x, 600))
    assert np.array_equal(TopKSelector().at_least(x, magnitude_key(2.0)), np.flatnonzero(np.abs(x) >= 2))
    with pytest.raises(RuntimeError, match="numba"):
        TopKSelector(compiled=True).select(x, 600)


def test_importing_asyncsgd_neither_imports_numba_nor_compiles():
    code = "import sys, asyncsgd, asyncsgd.codecs, asyncsgd.codecs.selection; print('numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


def test_select_rejects_other_dtypes():
    with pytest.raises(TypeError, match="float32"):
        TopKSelector().select(np.ones(10), 1)


@pytest.mark.skipif(len(PATHS) == 1, reason="numba is not installed")
def test_by_default_the_kernels_run_from_the_compiled_minimum_with_the_same_indices(monkeypatch):
    kernels, scans = selection.compiled_kernels(), []

    def scan(*args: object) -> int:
        scans.append(args[0].size)
        return kernels.scan(*args)

    spy = SimpleNamespace(scan=scan, keep=kernels.keep, WORD=kernels.WORD)
    monkeypatch.setattr(selection, "compiled_kernels", lambda: spy)
    x = vector(np.random.default_rng(7), selection.COMPILED_MIN + 77, "non_finite")
    k = x.size // 100
    assert np.array_equal(TopKSelector().select(x, k), TopKSelector(compiled=False).select(x, k))
    assert scans == [x.size]
    small = x[: selection.COMPILED_MIN - 1]
    assert np.array_equal(TopKSelector().select(small, k), reference(small, k))
    assert scans == [x.size]  # below the minimum: numpy, and nothing compiled


@pytest.mark.skipif(True not in PATHS, reason="numba is not installed")
@pytest.mark.parametrize("density", [0.0, 0.001, 0.015, 0.2, 1.0])
def test_the_branch_free_takes_find_what_the_loop_finds(density):
    """``eager`` takes hits from every word before the loop: the same positions and keys at every
    density, a tail shorter than a word included, and the same refusal when the buffers are full."""
    from asyncsgd.codecs.kernels import compiled

    scan = compiled().scan
    rng = np.random.default_rng(int(density * 1000))
    x = rng.standard_normal(64 * 500 + 37).astype(np.float32)
    key = magnitude_key(np.quantile(np.abs(x), 1 - density)) if density else magnitude_key(np.inf)
    bits = x.view(np.int32)
    want = np.flatnonzero(magnitudes(x) >= key)
    for eager in (0, 2):
        idx, keys = np.empty(x.size + 64, np.int64), np.empty(x.size + 64, np.int32)
        count = scan(bits, key, idx, keys, eager)
        assert np.array_equal(idx[:count], want) and np.array_equal(keys[:count], magnitudes(x)[want])
        if want.size > 256:  # buffers with room for half the hits
            half = want.size // 2
            assert scan(bits, key, np.empty(half, np.int64), np.empty(half, np.int32), eager) == -1
