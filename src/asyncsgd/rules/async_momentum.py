"""Momentum that accounts for the momentum asynchrony already implies (Mitliagkas et al. 2016)."""

from __future__ import annotations

from asyncsgd.rules.base import OPTIMIZERS
from asyncsgd.rules.sgd import MOMENTUM, NESTEROV, Momentum


def explicit_momentum(target: float, learners: int) -> float:
    """``max(0, 1 − p·(1 − μ_T))``: the explicit μ whose total with the implicit ``1 − 1/p`` is μ_T."""
    return max(0.0, 1.0 - learners * (1.0 - target))


@OPTIMIZERS.register("async_momentum", "server momentum lowered for the implicit momentum 1 − 1/p")
class AsyncMomentum(Momentum):
    """Asynchrony-aware momentum. Mitliagkas, Zhang, Hadjis & Ré (2016) show that with p
    learners and exponential compute times, asynchrony alone acts like momentum
    ``μ_a = 1 − 1/p``: ``E[x_{t+1} − x_t] = μ_a·E[x_t − x_{t−1}] − (γ/p)·∇f``. Adding explicit
    momentum μ_e gives the recursion

        D_{t+1} = (μ_e + μ_a)·D_t − μ_e·μ_a·D_{t−1} − γ(1 − μ_a)·∇f,    D_t = E[x_t − x_{t−1}]

    whose total momentum (the sum of the coefficients on past steps) is
    ``1 − (1 − μ_e)(1 − μ_a)``. Choosing μ_e so that this equals the target μ_T = ``momentum``::

        μ_e = max(0, 1 − p·(1 − μ_T))          then  v ← μ_e·v + g,  x ← x − γ·v

    e.g. μ_T = 0.9 gives μ_e = 0.8 for p = 2, 0.2 for p = 8 and 0 (plain SGD) from p = 10;
    with p = 1 it is ordinary momentum. The clip at 0 keeps the rule inside heavy ball (the
    paper notes negative momentum can help under high asynchrony). p is ``learners``, the model's
    proxy for the degree of asynchrony; synchronous SGD has none (use ``rule = "momentum"``).
    """

    name = "async_momentum"
    settings = (MOMENTUM, NESTEROV, "learners")
    protocols = ("async", "sequential")  # it corrects for asynchrony; a synchronous round has none
    reference = "Mitliagkas, Zhang, Hadjis & Ré, Asynchrony begets momentum, Allerton 2016 (arXiv 1605.09774)"

    def __init__(self, momentum: float = 0.9, nesterov: bool = False, learners: int = 1) -> None:
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if isinstance(learners, bool) or not isinstance(learners, int) or learners < 1:
            raise ValueError(f"learners must be an integer >= 1, got {learners!r}")
        self.target = float(momentum)
        self.learners = learners
        super().__init__(explicit_momentum(momentum, learners), nesterov)
