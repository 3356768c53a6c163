"""The estimators against problems whose constants are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from asyncsgd.theory import Estimates, ProbeSettings, estimate
from asyncsgd.theory.curvature import power_iteration
from asyncsgd.theory.objective import hessian_vector_product, loss_and_gradient
from asyncsgd.vocabulary.flat import FlatModel


def half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * (out.reshape(-1) - y.reshape(-1)).square().mean()


def linear_regression(n: int, d: int, scales: np.ndarray, noise: float, seed: int):
    """``y = x·w* + ε`` with ``x ~ N(0, diag(scales²))`` and ``ε ~ N(0, noise²)``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * scales
    w_star = rng.standard_normal(d)
    y = x @ w_star + noise * rng.standard_normal(n)
    module = nn.Linear(d, 1, bias=False)
    flat = FlatModel(module, loss_fn=half_mse)
    return flat, torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), w_star


def test_lipschitz_on_a_quadratic_is_the_largest_hessian_eigenvalue():
    d = 12
    scales = np.array([3.0, 2.0, 1.6, 1.3, 1.0, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    flat, x, y, _ = linear_regression(4000, d, scales, 0.1, seed=1)
    xd = x.double().numpy()
    hessian = xd.T @ xd / xd.shape[0]  # f(w) = (1/2n)‖Xw − y‖², a quadratic with Hessian XᵀX/n
    top = float(np.linalg.eigvalsh(hessian)[-1])
    settings = ProbeSettings(batch_size=16, points=2, steps=5, probe_lr=0.02, batches=8, hvp=60, samples=0)
    est = estimate(flat, torch.zeros(d), x, y, settings)
    for value in est.lipschitz_hessian.values:  # the Hessian is the same at every point
        assert value == pytest.approx(top, rel=0.02)
        assert value <= top * (1 + 1e-4)  # a Rayleigh quotient never exceeds the spectral norm
    assert all(sign == 1 for sign in est.hessian_sign)
    # the secant is a lower bound along its segment, and never above L
    assert all(0 < s <= top * (1 + 1e-4) for s in est.lipschitz_secant.values)


def test_power_iteration_finds_the_largest_magnitude_with_its_sign():
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(30, 30, generator=gen, dtype=torch.float64))
    eig = torch.linspace(-1, 3, 30, dtype=torch.float64)
    eig[0] = -7.0  # the largest magnitude is negative
    h = (q * eig) @ q.T
    result = power_iteration(lambda v: h @ v, torch.randn(30, generator=gen, dtype=torch.float64), 200, 1e-10)
    assert result.converged
    assert result.value == pytest.approx(-7.0, rel=1e-6)
    assert result.magnitude == pytest.approx(7.0, rel=1e-6)
    assert result.residual < 1e-3


def test_sigma2_on_linear_regression_with_known_noise():
    """At w*, the per-sample gradient is ``−x ε``: σ² = E‖xε‖² = s²·d for x ~ N(0, I_d)."""
    n, d, s, m, batches = 20_000, 10, 0.5, 16, 256
    flat, x, y, w_star = linear_regression(n, d, np.ones(d), s, seed=2)
    settings = ProbeSettings(batch_size=m, points=1, batches=batches, hvp=3, samples=512)
    est = estimate(flat, torch.tensor(w_star, dtype=torch.float32), x, y, settings)
    truth = s * s * d
    # ‖xε‖² has variance (2d² + 6d)s⁴, so a mean of k of them has relative error √((2 + 6/d)/k);
    # the fixed training set itself deviates from the population by the same law with k = n
    fixed_set = math.sqrt((2 + 6 / d) / n)
    se_sample = math.sqrt((2 + 6 / d) / (batches * m))
    assert est.sigma2_sample.max == pytest.approx(truth, rel=4 * math.hypot(se_sample, fixed_set))
    # the reported standard error agrees with the derived one (itself estimated from heavy tails)
    assert est.sigma2_sample.spread[0] / truth == pytest.approx(se_sample, rel=0.25)
    # a pair term is ½‖S‖²/M² with S a sum of K = 2M terms ±xε; from E‖xε‖⁴ = 3(d² + 2d)s⁴,
    # its relative variance is (2/d)(1 + (d + 2)/K); there are batches/2 pairs
    pairs = batches // 2
    se_batch = math.sqrt(2 / d * (1 + (d + 2) / (2 * m)) / pairs)
    batch_truth = truth / m * (n - m) / (n - 1)
    assert est.sigma2_batch.max == pytest.approx(batch_truth, rel=4 * math.hypot(se_batch, fixed_set))
    assert est.sigma2_batch.spread[0] / batch_truth == pytest.approx(se_batch, rel=0.5)
    assert est.sigma2_sample.samples == (batches * m,)
    assert est.sigma2_batch.terms == (pairs,)


def smooth_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def test_hessian_vector_product_matches_finite_differences():
    with torch.random.fork_rng(devices=[]):
        flat = FlatModel(smooth_net())
        gen = torch.Generator().manual_seed(1)
        inputs = torch.randn(300, 6, generator=gen)
        targets = torch.randint(0, 3, (300,), generator=gen)
        v = torch.randn(flat.size, generator=gen)
    x = flat.params.clone().double()
    hv = hessian_vector_product(flat, x.float(), inputs, targets, v, chunk=128)  # three chunks
    h = 1e-2
    _, g_plus = loss_and_gradient(flat, (x + h * v.double()).float(), inputs, targets)
    _, g_minus = loss_and_gradient(flat, (x - h * v.double()).float(), inputs, targets)
    finite = (g_plus - g_minus) / (2 * h)
    assert torch.allclose(hv, finite, rtol=0, atol=2e-3 * float(finite.abs().max()))


def bn_net() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def small_problem(module: nn.Module):
    gen = torch.Generator().manual_seed(4)
    inputs = torch.randn(400, 6, generator=gen)
    targets = torch.randint(0, 3, (400,), generator=gen)
    flat = FlatModel(module)
    return flat, inputs, targets


FAST = ProbeSettings(batch_size=8, points=2, steps=4, probe_lr=0.05, batches=8, hvp=6, samples=200, seed=5)


def test_per_sample_variance_falls_back_to_minibatches_when_vmap_cannot():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        flat, inputs, targets = small_problem(bn_net())
    est = estimate(flat, flat.params.clone(), inputs, targets, FAST)
    assert "unavailable" in est.sigma2_sample_source
    assert est.sigma2_sample.values == tuple(8 * v for v in est.sigma2_batch.values)
    assert "per_sample_gradients" not in est.cost


def test_estimates_are_reproducible_private_and_round_trip():
    with torch.random.fork_rng(devices=[]):
        flat, inputs, targets = small_problem(smooth_net())
    x1 = flat.params.clone()
    kept = x1.clone()
    state = torch.random.get_rng_state()
    first = estimate(flat, x1, inputs, targets, FAST)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert torch.equal(x1, kept)  # the starting point is not modified
    second = estimate(FlatModel(smooth_net()), x1, inputs, targets, FAST)
    assert first.to_dict() == second.to_dict()
    assert Estimates.from_dict(first.to_dict()) == first
    other_seed = estimate(flat, x1, inputs, targets, ProbeSettings(**{**FAST.__dict__, "seed": 6}))
    assert other_seed.sigma2_batch.values != first.sigma2_batch.values
    # what the cost counters claim is what the settings ask for
    assert first.cost["trajectory_steps"] == FAST.steps * (FAST.points - 1)
    assert first.cost["minibatch_gradients"] == FAST.batches * FAST.points
    assert first.cost["per_sample_gradients"] == FAST.batches * FAST.batch_size * FAST.points
    assert first.cost["hessian_vector_products"] == sum(first.lipschitz_hessian.terms)
    assert first.cost["hessian_vector_products"] <= FAST.hvp * FAST.points
    assert first.steps_at == (0, FAST.steps)
    assert first.f_x1 == pytest.approx(flat.evaluate(x1, inputs, targets)[0])


def test_diverging_probe_names_the_setting():
    from asyncsgd.errors import ConfigError

    flat, x, y, _ = linear_regression(500, 4, np.ones(4), 0.1, seed=3)
    settings = ProbeSettings(**{**FAST.__dict__, "probe_lr": 1e3, "steps": 50})  # lr·L ≫ 2
    with pytest.raises(ConfigError, match="theory_probe_lr"):
        estimate(flat, torch.zeros(4), x, y, settings)
