"""Gradient and variance conventions: Lian et al. (2015) sum, asyncsgd averages.

Lian et al.'s ASYSG-CON applies the *sum* of M per-sample gradients,
``x ← x − γ Σ_{m=1}^{M} G(x; ξ_m)``, and bounds the *per-sample* variance
``E‖G(x; ξ) − ∇f(x)‖² ≤ σ²``. asyncsgd applies the *mean*, ``x ← x − lr·(1/M) Σ_m G(x; ξ_m)``,
so the same step needs ``lr = M·γ``. The variance of one mean gradient over M independent
samples is ``σ_M² = σ²/M``; substituted into Corollary 2,

    γ  = √(D_f / (M K L σ²))           Lian, sum convention, per-sample σ²
    lr = M·γ = √(M D_f / (K L σ²)) = √(D_f / (K L σ_M²))        asyncsgd, mean convention

Plugging a *mini-batch* variance into Lian's formula (as a literal reading of the study's slides
suggests) gives ``√(D_f/(M K L σ_M²)) = √M·γ``: neither convention, off by √M. ``f`` is always the
mean loss over the training set, so ``D_f`` and ``L`` are the same in both conventions.
"""

from __future__ import annotations


def lian_to_mean_rate(gamma: float, batch_size: int) -> float:
    """asyncsgd's rate (mean gradients) for Lian's rate ``gamma`` (summed gradients): ``M·γ``."""
    return batch_size * gamma


def mean_to_lian_rate(lr: float, batch_size: int) -> float:
    """Lian's rate (summed gradients) for asyncsgd's rate ``lr`` (mean gradients): ``lr/M``."""
    return lr / batch_size


def batch_variance(sigma2: float, batch_size: int) -> float:
    """Variance of the mean of ``M`` independent per-sample gradients: ``σ_M² = σ²/M``."""
    return sigma2 / batch_size


def without_replacement(sigma2: float, batch_size: int, n: int) -> float:
    """Variance of the mean of ``M`` samples drawn *without* replacement from ``n``:
    ``σ²/M · (n − M)/(n − 1)`` (the finite-population correction)."""
    if n <= 1:
        return 0.0
    return sigma2 / batch_size * (n - batch_size) / (n - 1)
