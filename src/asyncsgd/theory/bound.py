"""Lian et al. (2015) Theorem 1 with a constant rate, and its exact 1-D optimisation.

With a constant rate, delay bound ``T`` and mean gradients (asyncsgd's convention, ``lr = M·γ``;
see :mod:`asyncsgd.theory.conventions`), Theorem 1 reads (Bhardwaj & Cong 2016, eqs. 1–2, with
their ``p`` for ``T``)::

    R̄_K ≤ 2 D_f/(K·lr) + σ_M² L·lr + 2 σ_M² L² T·lr²        (1)
    s.t.  L·lr + 2 L² T²·lr² ≤ 1                              (2)

where ``R̄_K`` is the average expected squared gradient norm over ``K`` updates and ``σ_M² = σ²/M``
the variance of one update's mean gradient. With ``u = L·lr`` (= ``L M γ`` in Lian's sum
convention) and ``α = √(K σ² / (M L D_f)) = √(K σ_M² / (L D_f))``::

    R̄_K ≤ (D_f L / K) · r(u),   r(u) = 2/u + α² u + 2 T α² u²,   s.t.  u + 2 T² u² ≤ 1.

``r`` is strictly convex on ``u > 0``, so the constrained minimiser is
``min(u_stationary, u_max)``: the positive root of ``r'(u) = 0`` (a cubic, solved to machine
precision) or the constraint's boundary ``u_max = 2/(1 + √(1 + 8T²))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (2) is checked with this relative slack: u_max itself must count as feasible in floating point
FEASIBILITY_SLACK = 1e-12


def normalized_bound(u: float, alpha: float, delay: float) -> float:
    """``r(u) = 2/u + α²u + 2Tα²u²``: bound (1) in units of ``D_f L / K``."""
    a2 = alpha * alpha
    return 2.0 / u + a2 * u + 2.0 * delay * a2 * u * u


def constraint(u: float, delay: float) -> float:
    """Left side of (2) in ``u``: ``u + 2T²u²`` (feasible when ≤ 1)."""
    return u + 2.0 * delay * delay * u * u


def is_feasible(u: float, delay: float) -> bool:
    return u > 0 and constraint(u, delay) <= 1.0 + FEASIBILITY_SLACK


def u_max(delay: float) -> float:
    """Largest ``u`` allowed by (2): the positive root of ``2T²u² + u − 1``, written without
    cancellation as ``2/(1 + √(1 + 8T²))`` (= 1 when ``T = 0``)."""
    return 2.0 / (1.0 + math.sqrt(1.0 + 8.0 * delay * delay))


def stationary_u(alpha: float, delay: float) -> float:
    """The positive root of ``r'(u) = 0``, i.e. of ``φ(u) = 4Tα²u³ + α²u² − 2``.

    ``φ`` is increasing and convex on ``u > 0`` and ``φ(√2/α) ≥ 0``, so Newton's method started
    there decreases monotonically to the root; it stops when an iterate no longer decreases.
    """
    if alpha <= 0:
        return math.inf
    a2 = alpha * alpha
    u = math.sqrt(2.0) / alpha
    for _ in range(200):
        phi = 4.0 * delay * a2 * u**3 + a2 * u * u - 2.0
        slope = 12.0 * delay * a2 * u * u + 2.0 * a2 * u
        nxt = u - phi / slope
        if not nxt < u:
            break
        u = nxt
    return u


def optimal_u(alpha: float, delay: float) -> float:
    """The exact minimiser of ``r`` under (2)."""
    return min(stationary_u(alpha, delay), u_max(delay))


def optimal_normalized_bound(alpha: float, delay: float) -> float:
    return normalized_bound(optimal_u(alpha, delay), alpha, delay)


def delay_ratio(alpha: float, delay: float) -> float:
    """Best guarantee with delay bound ``T`` over the best with one learner (``T = 1``)."""
    return optimal_normalized_bound(alpha, delay) / optimal_normalized_bound(alpha, 1)


def guarantee_ratio(learners: float, alpha: float) -> float:
    """Best guarantee with ``p`` learners over the best with one, both with ``T = p`` as in the
    study (so one learner is evaluated with ``T = 1``). Within 10% of ``p/α`` for roughly
    ``10 ≤ α ≤ p/3``; about 1.6 at ``α = p`` (and ``≈ 0.57·p`` at ``α = 1``)."""
    return delay_ratio(alpha, learners)


def speedup_threshold(delay: float) -> float:
    """Lian et al.'s Corollary 2 condition ``K ≥ 4MLD_f(T+1)²/σ²`` for a linear speed-up, written
    ``α ≥ 2(T + 1)``: this is its right side."""
    return 2.0 * (delay + 1.0)


@dataclass(frozen=True)
class DelayCheck:
    """Lian et al.'s two conditions for one delay bound ``T`` at a run's rate ``u = L·lr``:
    Corollary 2's ``α ≥ 2(T+1)`` (a linear speed-up) and constraint (2) ``u + 2T²u² ≤ 1`` (any
    guarantee at all), beside the ratio of optimal guarantees that ``T`` predicts."""

    label: str
    delay: float
    threshold: float
    speedup: bool
    constraint: float
    feasible: bool
    ratio: float

    @property
    def fails(self) -> tuple[str, ...]:
        """The conditions that fail, by name (empty when both hold)."""
        failing = [("α ≥ 2(T+1)", self.speedup), ("constraint (2)", self.feasible)]
        return tuple(name for name, holds in failing if not holds)


def delay_checks(
    alpha: float, u: float, learners: int, tau_p95: float | None = None, tau_max: float | None = None
) -> list[DelayCheck]:
    """Both conditions with the study's ``T = p`` and with the staleness a run measured (its 95th
    percentile and its largest τ, where given): ``T = p`` understates the delay when τ max > p."""
    delays = [("T = p", float(learners)), ("T = τ p95", tau_p95), ("T = τ max", tau_max)]
    out = []
    for label, delay in delays:
        if delay is None:
            continue
        threshold = speedup_threshold(delay)
        out.append(
            DelayCheck(
                label, delay, threshold, alpha >= threshold, constraint(u, delay), is_feasible(u, delay),
                delay_ratio(alpha, delay),
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class Constants:
    """What the bound needs, in asyncsgd's convention.

    ``sigma2_update`` is ``σ_M²``, the variance of the mean gradient one update applies
    (``σ²/M`` for per-sample variance ``σ²`` and ``M`` samples per update).
    """

    d_f: float
    lipschitz: float
    sigma2_update: float
    updates: int

    @property
    def alpha(self) -> float:
        """``α = √(K σ_M² / (L D_f)) = √(K σ² / (M L D_f))``."""
        return math.sqrt(self.updates * self.sigma2_update / (self.lipschitz * self.d_f))

    @property
    def scale(self) -> float:
        """``D_f L / K``: the unit of the normalised bound."""
        return self.d_f * self.lipschitz / self.updates

    def bound(self, lr: float, delay: float) -> float:
        """Right side of (1) at rate ``lr`` (mean gradients) and delay bound ``T``."""
        return self.scale * normalized_bound(self.lipschitz * lr, self.alpha, delay)

    def feasible(self, lr: float, delay: float) -> bool:
        """Whether ``lr`` satisfies (2) for delay bound ``T``."""
        return is_feasible(self.lipschitz * lr, delay)

    def optimal_lr(self, delay: float) -> float:
        """The rate minimising (1) under (2) for delay bound ``T``: ``u*/L``."""
        return optimal_u(self.alpha, delay) / self.lipschitz

    def optimal_bound(self, delay: float) -> float:
        return self.scale * optimal_normalized_bound(self.alpha, delay)

    def corollary2_lr(self) -> float:
        """Lian et al. Corollary 2, ``γ = √(D_f/(MKLσ²))``, as a mean-gradient rate:
        ``lr = M·γ = √(D_f/(K L σ_M²)) = 1/(αL)``."""
        return math.sqrt(self.d_f / (self.updates * self.lipschitz * self.sigma2_update))

    def speedup_threshold(self, delay: float) -> float:
        """Corollary 2's condition ``K ≥ 4MLD_f(T+1)²/σ²`` is ``α ≥ 2(T + 1)``."""
        return speedup_threshold(delay)

    def delay_checks(
        self, lr: float, learners: int, tau_p95: float | None = None, tau_max: float | None = None
    ) -> list[DelayCheck]:
        """:func:`delay_checks` at rate ``lr`` (mean gradients)."""
        return delay_checks(self.alpha, self.lipschitz * lr, learners, tau_p95, tau_max)

    def updates_for_speedup(self, delay: float) -> int:
        """Smallest ``K`` meeting Corollary 2's condition: ``4 L D_f (T+1)² / σ_M²``."""
        return math.ceil(4.0 * self.lipschitz * self.d_f * (delay + 1.0) ** 2 / self.sigma2_update)
