"""From measured constants and a run's shape (M, K, p, T) to a learning rate and its guarantees.

Rates are in asyncsgd's convention (mean gradients) with Lian's (summed gradients) beside them,
``γ = lr/M`` (:mod:`asyncsgd.theory.conventions`). The per-sample ``σ²`` that feeds the formulas
is the maximum over the probe points; ``L`` is the maximum of the chosen estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.theory.bound import Constants
from asyncsgd.theory.conventions import batch_variance, mean_to_lian_rate
from asyncsgd.theory.probe import Estimates

ONE_LEARNER_DELAY = 1  # the study evaluates (1)–(2) with p = 1 for one learner, i.e. T = 1


@dataclass(frozen=True)
class Problem:
    """The run the prediction is for: ``M`` samples per update, ``K`` updates, ``p`` learners and
    the delay bound ``T`` (``p`` by default, or a staleness measured in a run)."""

    batch_size: int
    updates: int
    learners: int
    delay: float
    delay_source: str = "T = p (the study's choice)"

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any]) -> Problem:
        """The problem recorded in a prediction's ``inputs`` (see :meth:`Prediction.to_dict`)."""
        return cls(
            int(inputs["batch_size"]),
            int(inputs["updates"]),
            int(inputs["learners"]),
            float(inputs["delay"]),
            str(inputs["delay_source"]),
        )


RateRule = Callable[[Constants, Problem], float]
RATES: Registry[RateRule] = Registry("theory rate")


@RATES.register(
    "corollary2",
    "Lian et al. Corollary 2: γ = √(D_f/(M K L σ²)), i.e. lr = M·γ = √(D_f/(K L σ_M²))",
    formula="lr = M·√(D_f/(M·K·L·σ²)) = √(D_f/(K·L·σ_M²)), σ_M² = σ²/M",
)
def corollary2(c: Constants, problem: Problem) -> float:
    if c.sigma2_update <= 0:
        raise ConfigError("theory_rate", "σ² = 0: Corollary 2's rate is unbounded; use theory_rate = optimal")
    return c.corollary2_lr()


RATES.register(
    "optimal",
    "the rate minimising bound (1) under constraint (2) with delay bound T",
    formula="lr = argmin 2D_f/(K·lr) + σ_M²L·lr + 2σ_M²L²T·lr²  s.t.  L·lr + 2L²T²·lr² ≤ 1",
)(lambda c, problem: c.optimal_lr(problem.delay))


@dataclass(frozen=True)
class Prediction:
    """A predicted rate with everything the bound says about it."""

    rule: str
    formula: str
    lipschitz_source: str
    sigma2: float  # per sample, fed to Lian's formulas
    constants: Constants
    problem: Problem
    lr: float  # asyncsgd: gradients are batch means
    gamma_lian: float  # Lian: gradients are batch sums, lr = M·γ
    study_recipe_lr: float  # mini-batch σ_M² plugged into √(D_f/(MKLσ²)): off by √M

    @property
    def alpha(self) -> float:
        return self.constants.alpha

    @property
    def speedup_threshold(self) -> float:
        return self.constants.speedup_threshold(self.problem.delay)

    @property
    def speedup_holds(self) -> bool:
        """Lian's linear-speed-up condition ``K ≥ 4MLD_f(T+1)²/σ²``, i.e. ``α ≥ 2(T+1)``."""
        return self.alpha >= self.speedup_threshold

    def to_dict(self) -> dict[str, Any]:
        c, p = self.constants, self.problem
        return {
            "rule": self.rule,
            "formula": self.formula,
            "lr": self.lr,
            "gamma_lian": self.gamma_lian,
            "conventions": {
                "lr": "asyncsgd: x ← x − lr·(1/M)·Σ_m G(x; ξ_m) (batch-mean gradients)",
                "gamma_lian": "Lian et al.: x ← x − γ·Σ_m G(x; ξ_m) (batch-sum gradients); lr = M·γ",
                "sigma2": "per-sample variance E‖G(x; ξ) − ∇f(x)‖²; σ_M² = σ²/M per update",
            },
            "study_recipe_lr": self.study_recipe_lr,
            "inputs": {
                "d_f": c.d_f,
                "lipschitz": c.lipschitz,
                "lipschitz_source": self.lipschitz_source,
                "sigma2": self.sigma2,
                "sigma2_update": c.sigma2_update,
                "batch_size": p.batch_size,
                "updates": p.updates,
                "learners": p.learners,
                "delay": p.delay,
                "delay_source": p.delay_source,
            },
            "alpha": self.alpha,
            "bound_at_lr": c.bound(self.lr, p.delay),
            "feasible_at_lr": c.feasible(self.lr, p.delay),
            "optimal": {
                "lr_one_learner": c.optimal_lr(ONE_LEARNER_DELAY),
                "lr": c.optimal_lr(p.delay),
                "bound_one_learner": c.optimal_bound(ONE_LEARNER_DELAY),
                "bound": c.optimal_bound(p.delay),
                "ratio": c.optimal_bound(p.delay) / c.optimal_bound(ONE_LEARNER_DELAY),
                "p_over_alpha": p.learners / self.alpha if self.alpha > 0 else math.inf,
            },
            "linear_speedup": {
                "condition": "α ≥ 2(T + 1)  ⇔  K ≥ 4·M·L·D_f·(T + 1)²/σ²",
                "threshold": self.speedup_threshold,
                "holds": self.speedup_holds,
                "updates_needed": c.updates_for_speedup(p.delay),
            },
        }


def constants_for(estimates: Estimates, problem: Problem, lipschitz: str = "hessian") -> Constants:
    """The bound's constants: ``D_f``, the max of the chosen ``L``, and ``σ_M² = σ²/M`` with ``σ²``
    the max per-sample variance and ``M`` the samples per update."""
    d_f = estimates.d_f
    if not d_f > 0:
        raise ConfigError(
            "theory_f_low", f"D_f = f(x1) − f_low must be > 0; f(x1) = {estimates.f_x1:.6g}, "
            f"f_low = {estimates.settings.f_low:.6g}"
        )  # fmt: skip
    lip = estimates.lipschitz(lipschitz).max
    if not (lip > 0 and math.isfinite(lip)):
        raise ConfigError("theory_lipschitz", f"the {lipschitz} estimate of L is {lip:.6g}; need L > 0")
    sigma2 = estimates.sigma2_sample.max
    return Constants(d_f, lip, batch_variance(sigma2, problem.batch_size), problem.updates)


def predict(
    estimates: Estimates, problem: Problem, rule: str = "corollary2", lipschitz: str = "hessian"
) -> Prediction:
    """The rate ``rule`` gives for ``problem`` with the measured constants."""
    entry = RATES.entry(rule)
    c = constants_for(estimates, problem, lipschitz)
    lr = entry.factory(c, problem)
    sigma2 = c.sigma2_update * problem.batch_size
    m, batch = estimates.batch_size, estimates.sigma2_batch.max
    study = math.sqrt(c.d_f / (m * c.updates * c.lipschitz * batch)) if batch > 0 else math.inf
    return Prediction(
        rule=rule,
        formula=str(entry.meta["formula"]),
        lipschitz_source=lipschitz,
        sigma2=sigma2,
        constants=c,
        problem=problem,
        lr=lr,
        gamma_lian=mean_to_lian_rate(lr, problem.batch_size),
        study_recipe_lr=study,
    )
