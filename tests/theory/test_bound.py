"""Bound (1) under constraint (2): the exact optimum, the ratio of guarantees, the conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asyncsgd.errors import ConfigError
from asyncsgd.theory.bound import (
    Constants,
    constraint,
    guarantee_ratio,
    is_feasible,
    normalized_bound,
    optimal_normalized_bound,
    optimal_u,
    u_max,
)
from asyncsgd.theory.conventions import lian_to_mean_rate, without_replacement
from asyncsgd.theory.delay import delay_from_histogram, parse_statistic

CASES = [(a, t) for a in (0.3, 1.0, 2.0, 7.5, 40.0, 300.0, 5e3) for t in (0, 1, 2, 8, 64, 512)]


@pytest.mark.parametrize(("alpha", "delay"), CASES)
def test_optimum_is_feasible_and_beats_a_fine_grid(alpha, delay):
    u = optimal_u(alpha, delay)
    assert is_feasible(u, delay)
    best = normalized_bound(u, alpha, delay)
    # 200,001 feasible points, log-spaced from far below the optimum up to the boundary
    grid = np.geomspace(u_max(delay) * 1e-6, u_max(delay), 200_001)
    grid = grid[grid + 2 * delay**2 * grid**2 <= 1]
    values = 2 / grid + alpha**2 * grid + 2 * delay * alpha**2 * grid**2
    assert best <= values.min() * (1 + 1e-12)
    # and it is a true minimum: no grid point is better by more than rounding
    assert values.min() - best < 1e-6 * best


@pytest.mark.parametrize(("alpha", "delay"), CASES)
def test_optimum_is_stationary_or_on_the_boundary(alpha, delay):
    u = optimal_u(alpha, delay)
    slope = -2 / u**2 + alpha**2 + 4 * delay * alpha**2 * u
    if u < u_max(delay):
        assert abs(slope) * u**2 < 1e-9  # r'(u) = 0, scaled by u² so it is relative to 2
    else:
        assert constraint(u, delay) == pytest.approx(1.0, rel=1e-12)
        assert slope <= 0  # r still decreasing at the boundary: the constraint binds


def test_boundary_is_the_root_of_the_constraint():
    for delay in (0, 1, 3, 100, 10**6):
        assert constraint(u_max(delay), delay) == pytest.approx(1.0, rel=1e-12)
    assert u_max(0) == 1.0
    assert u_max(10**6) == pytest.approx(1 / (math.sqrt(2) * 10**6), rel=1e-5)  # ≈ 1/(√2 p)


def test_ratio_tends_to_p_over_alpha_when_alpha_is_much_smaller_than_p():
    # the error is O(1/α) from the one-learner side and O(α/p) from the p-learner side
    for p, alpha in [(10**4, 100.0), (10**6, 1000.0), (10**8, 10**4)]:
        ratio = guarantee_ratio(p, alpha)
        assert ratio / (p / alpha) == pytest.approx(1.0, abs=2 / alpha + 2 * alpha / p)
    errors = [abs(guarantee_ratio(p, a) * a / p - 1) for p, a in [(10**4, 100.0), (10**6, 1000.0)]]
    assert errors[1] < errors[0]  # and it shrinks as both limits are approached


def test_ratio_tends_to_one_when_alpha_is_much_larger_than_p():
    for p in (2, 16, 256, 512):
        previous = math.inf
        for alpha in (1e2 * p, 1e4 * p, 1e6 * p):
            ratio = guarantee_ratio(p, alpha)
            assert 1.0 <= ratio < previous
            assert ratio - 1 < 4 * p / alpha  # the delay term is 2Tα²u² ≈ 4T against 2√2α
            previous = ratio
    assert guarantee_ratio(1, 37.0) == 1.0


def test_ratio_grows_with_p_and_is_never_below_one():
    for alpha in (1.0, 10.0, 100.0, 1000.0):
        values = [guarantee_ratio(p, alpha) for p in (1, 2, 8, 64, 256, 512)]
        assert values == sorted(values) and values[0] == 1.0


def lian_bound_sum_convention(d_f, lip, sigma2, m, k, delay, gamma):
    """Lian et al. Theorem 1, eq. (8), with γ_k = γ: summed gradients, per-sample σ²."""
    numerator = 2 * d_f + k * (gamma**2 * m * lip + 2 * lip**2 * m**2 * gamma * delay * gamma**2) * sigma2
    return numerator / (m * k * gamma)


def test_mean_convention_bound_equals_lians_theorem_at_lr_equal_m_gamma():
    d_f, lip, sigma2, m, k = 2.3, 17.0, 90.0, 32, 5000
    c = Constants(d_f, lip, sigma2 / m, k)
    for delay in (0, 1, 8, 40):
        for gamma in (1e-6, 1e-5, 3e-4):
            lr = lian_to_mean_rate(gamma, m)
            lian = lian_bound_sum_convention(d_f, lip, sigma2, m, k, delay, gamma)
            assert c.bound(lr, delay) == pytest.approx(lian)
            # condition (7) with constant γ: LMγ + 2L²M²T²γ² ≤ 1
            lian_ok = lip * m * gamma + 2 * lip**2 * m**2 * delay**2 * gamma**2 <= 1
            assert c.feasible(lr, delay) == lian_ok
    # Corollary 2 in both conventions, and α with per-sample σ²
    gamma = math.sqrt(d_f / (m * k * lip * sigma2))
    assert c.corollary2_lr() == pytest.approx(m * gamma)
    assert c.alpha == pytest.approx(math.sqrt(k * sigma2 / (m * lip * d_f)))
    assert c.corollary2_lr() == pytest.approx(1 / (c.alpha * lip))
    # K ≥ 4MLD_f(T+1)²/σ² ⇔ α ≥ 2(T+1)
    for delay in (0, 3, 30):
        needed = c.updates_for_speedup(delay)
        assert needed == math.ceil(4 * m * lip * d_f * (delay + 1) ** 2 / sigma2)
        assert Constants(d_f, lip, sigma2 / m, needed).alpha >= c.speedup_threshold(delay)
        assert Constants(d_f, lip, sigma2 / m, needed - 1).alpha < c.speedup_threshold(delay)


def test_summed_update_with_gamma_is_the_mean_update_with_m_gamma():
    gen = torch.Generator().manual_seed(3)
    per_sample = torch.randn(32, 50, generator=gen)
    x = torch.randn(50, generator=gen)
    gamma = 0.01
    summed = x - gamma * per_sample.sum(0)
    mean = x - lian_to_mean_rate(gamma, 32) * per_sample.mean(0)
    torch.testing.assert_close(summed, mean)


def test_finite_population_variance_of_a_batch_mean():
    rng = np.random.default_rng(0)
    pop = rng.normal(size=(40, 3))
    sigma2 = float(((pop - pop.mean(0)) ** 2).sum(1).mean())
    # exhaustive over all batches of 2 out of 40: exact expectation, no sampling error
    means = [(pop[i] + pop[j]) / 2 for i in range(40) for j in range(i + 1, 40)]
    exact = float(((np.array(means) - pop.mean(0)) ** 2).sum(1).mean())
    assert without_replacement(sigma2, 2, 40) == pytest.approx(exact)


def test_optimal_rates_in_physical_units():
    c = Constants(d_f=2.0, lipschitz=10.0, sigma2_update=0.5, updates=2000)
    for delay in (1, 8):
        lr = c.optimal_lr(delay)
        assert lr == pytest.approx(optimal_u(c.alpha, delay) / c.lipschitz)
        assert c.optimal_bound(delay) == pytest.approx(c.bound(lr, delay))
        assert c.optimal_bound(delay) == pytest.approx(c.scale * optimal_normalized_bound(c.alpha, delay))
        for other in np.linspace(lr * 0.5, lr * 1.5, 41):
            if c.feasible(other, delay):
                assert c.bound(other, delay) >= c.optimal_bound(delay) * (1 - 1e-12)


def test_delay_from_histogram_and_statistics():
    hist = [5, 0, 3, 0, 0, 2, 0]  # τ = 0 ×5, 2 ×3, 5 ×2; trailing zero bins are ignored
    assert delay_from_histogram(hist) == 5
    assert delay_from_histogram(hist, 0.5) == 0
    assert delay_from_histogram(hist, 0.8) == 2
    assert delay_from_histogram(hist, 0.81) == 5
    assert delay_from_histogram(hist, 1.0) == 5
    assert parse_statistic("max") is None
    assert parse_statistic("p95") == pytest.approx(0.95)
    assert parse_statistic("0.5") == 0.5
    for bad in ("p0", "p101", "1.5", "median", "-0.1"):
        with pytest.raises(ConfigError, match="--staleness"):
            parse_statistic(bad)
    with pytest.raises(ValueError):
        delay_from_histogram([0, 0])
