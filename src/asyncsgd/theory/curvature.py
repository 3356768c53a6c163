"""The smoothness constant L: power iteration on Hessian-vector products, and a secant beside it.

``L`` bounds ``‖∇f(x) − ∇f(y)‖ ≤ L‖x − y‖`` (Lian et al. 2015, Assumption 1); locally it is the
spectral norm of the Hessian, ``max |λ_i(∇²f(x))|``. Power iteration ``v ← Hv/‖Hv‖`` converges to
the eigenvector of largest ``|λ|``; its Rayleigh quotient ``λ = vᵀHv`` converges from below in
magnitude, and the residual ``‖Hv − λv‖`` bounds the distance from ``λ`` to an eigenvalue of H.

The secant ``‖∇f(y) − ∇f(x)‖ / ‖y − x‖`` over one gradient step is a lower bound on L along that
segment; on a quadratic it equals ``‖H d‖/‖d‖`` for the step direction ``d``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Eigen:
    """Result of power iteration: the signed Rayleigh quotient of the last vector and its residual."""

    value: float
    residual: float
    iterations: int
    converged: bool
    vector: torch.Tensor  # the next iterate: a warm start at a nearby point

    @property
    def magnitude(self) -> float:
        return abs(self.value)


def power_iteration(
    hvp: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, max_iter: int, tol: float
) -> Eigen:
    """Largest-magnitude eigenvalue of the symmetric operator ``hvp``.

    Stops after ``max_iter`` products, or when the Rayleigh quotient changes by at most ``tol``
    relative to itself, or when the residual is at most ``tol·|λ|``.
    """
    v = start / start.norm()
    previous: float | None = None
    value, residual = 0.0, math.inf
    for i in range(1, max_iter + 1):
        w = hvp(v)
        value = float(torch.dot(v.double(), w.double()))
        residual = float((w - value * v).norm())
        norm = float(w.norm())
        if norm == 0.0:
            return Eigen(0.0, 0.0, i, True, v)
        nxt = w / norm
        settled = previous is not None and abs(value - previous) <= tol * abs(value)
        if settled or residual <= tol * abs(value):
            return Eigen(value, residual, i, True, nxt)
        previous, v = value, nxt
    return Eigen(value, residual, max_iter, False, v)


def secant(x: torch.Tensor, y: torch.Tensor, grad_x: torch.Tensor, grad_y: torch.Tensor) -> float:
    """``‖∇f(y) − ∇f(x)‖ / ‖y − x‖`` (0 when the points coincide: no information)."""
    step = float((y.double() - x.double()).norm())
    if step == 0.0:
        return 0.0
    return float((grad_y.double() - grad_x.double()).norm()) / step
