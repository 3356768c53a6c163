"""Measure the constants of the convergence bound along a short probe trajectory.

The probe starts at the initial point ``x1`` and takes plain SGD steps (mini-batches of ``M``,
mean gradients, rate ``probe_lr``); every ``steps`` steps it stops at a *probe point* and
measures, at that point:

* ``f(x)``, the mean training loss over all ``n`` samples (``D_f = f(x1) − f_low``, exact);
* ``σ_M²`` and ``σ²`` from ``batches`` fresh mini-batches (:mod:`asyncsgd.theory.variance`);
* ``L`` by power iteration on Hessian-vector products of the loss over a fixed random subset of
  ``samples`` training samples, warm-started from the previous point's vector, and the secant of
  one gradient step of ``probe_lr`` on the same subset (:mod:`asyncsgd.theory.curvature`).

The bound needs constants that hold along the whole run, so the formulas take the **maximum**
over the probe points (as the study takes "the maximum of observed gradient variance"); the mean
is reported beside it. Every random choice comes from a private generator seeded by ``seed``;
the global torch RNG is forked, so modules with dropout are reproducible and the caller's RNG
state is untouched.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from asyncsgd.core.flat import FlatModel
from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.theory.curvature import power_iteration, secant
from asyncsgd.theory.objective import hessian_vector_product, loss_and_gradient
from asyncsgd.theory.variance import Measured, minibatch_variance, per_sample_variance

THEORY_STREAM = 0x7E0  # separates the probe's draws from every other stream of the run seed
PER_SAMPLE_FAILURES = (RuntimeError, NotImplementedError, ValueError, TypeError)


@dataclass(frozen=True)
class ProbeSettings:
    """How the constants are measured (the ``theory_*`` settings of a run config)."""

    batch_size: int
    points: int = 3
    steps: int = 50
    probe_lr: float = 0.05
    batches: int = 64
    hvp: int = 20
    samples: int = 1024
    f_low: float = 0.0
    seed: int = 0
    tol: float = 1e-3


@dataclass(frozen=True)
class Stat:
    """One constant at every probe point, with a spread per point and what each value used.

    ``samples``: training samples behind each per-point value; ``terms``: the independent terms
    averaged (pairs, batches) or the Hessian-vector products it took.
    """

    values: tuple[float, ...]
    spread: tuple[float, ...]
    samples: tuple[int, ...]
    terms: tuple[int, ...]
    spread_kind: str

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def argmax(self) -> int:
        return max(range(len(self.values)), key=self.values.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max": self.max,
            "mean": self.mean,
            "per_point": list(self.values),
            "spread": list(self.spread),
            "spread_kind": self.spread_kind,
            "samples": list(self.samples),
            "terms": list(self.terms),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stat:
        return cls(
            tuple(float(v) for v in d["per_point"]),
            tuple(math.inf if v is None else float(v) for v in d["spread"]),
            tuple(int(v) for v in d["samples"]),
            tuple(int(v) for v in d["terms"]),
            str(d["spread_kind"]),
        )


def _stat(measured: list[Measured], kind: str) -> Stat:
    return Stat(
        tuple(m.value for m in measured),
        tuple(m.stderr for m in measured),
        tuple(m.samples for m in measured),
        tuple(m.terms for m in measured),
        kind,
    )


@dataclass(frozen=True)
class Estimates:
    """``D_f``, ``σ²``, ``σ_M²`` and two estimates of ``L`` at every probe point, with their cost."""

    settings: ProbeSettings
    n_train: int
    parameters: int
    f_x1: float
    steps_at: tuple[int, ...]
    loss: tuple[float, ...]
    sigma2_batch: Stat
    sigma2_sample: Stat
    sigma2_sample_source: str
    lipschitz_hessian: Stat
    hessian_sign: tuple[int, ...]
    lipschitz_secant: Stat
    cost: dict[str, int] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size

    @property
    def d_f(self) -> float:
        """``D_f = f(x1) − f_low``."""
        return self.f_x1 - self.settings.f_low

    def lipschitz(self, source: str) -> Stat:
        return LIPSCHITZ.get(source)(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "n_train": self.n_train,
            "parameters": self.parameters,
            "d_f": {"value": self.d_f, "f_x1": self.f_x1, "f_low": self.settings.f_low,
                    "samples": self.n_train, "spread": 0.0, "spread_kind": "exact on the training set"},
            "steps_at": list(self.steps_at),
            "loss": list(self.loss),
            "sigma2_batch": self.sigma2_batch.to_dict(),
            "sigma2_sample": {**self.sigma2_sample.to_dict(), "source": self.sigma2_sample_source},
            "lipschitz_hessian": {**self.lipschitz_hessian.to_dict(), "sign": list(self.hessian_sign)},
            "lipschitz_secant": self.lipschitz_secant.to_dict(),
            "cost": dict(self.cost),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimates:
        return cls(
            settings=ProbeSettings(**d["settings"]),
            n_train=int(d["n_train"]),
            parameters=int(d["parameters"]),
            f_x1=float(d["d_f"]["f_x1"]),
            steps_at=tuple(int(s) for s in d["steps_at"]),
            loss=tuple(float(v) for v in d["loss"]),
            sigma2_batch=Stat.from_dict(d["sigma2_batch"]),
            sigma2_sample=Stat.from_dict(d["sigma2_sample"]),
            sigma2_sample_source=str(d["sigma2_sample"]["source"]),
            lipschitz_hessian=Stat.from_dict(d["lipschitz_hessian"]),
            hessian_sign=tuple(int(s) for s in d["lipschitz_hessian"]["sign"]),
            lipschitz_secant=Stat.from_dict(d["lipschitz_secant"]),
            cost={k: int(v) for k, v in d["cost"].items()},
        )


LIPSCHITZ: Registry[Any] = Registry("lipschitz estimate")
LIPSCHITZ.register("hessian", "largest |eigenvalue| of the Hessian, by power iteration")(
    lambda e: e.lipschitz_hessian
)
LIPSCHITZ.register("secant", "gradient difference over one probe gradient step")(lambda e: e.lipschitz_secant)


def estimate(
    flat: FlatModel, x1: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, settings: ProbeSettings
) -> Estimates:
    """Measure the constants at ``settings.points`` probe points, starting from ``x1``.

    ``(inputs, targets)`` is the training set: ``f`` is the mean loss over it. ``flat`` is
    scratch space (its buffers are overwritten); ``x1`` is not modified.
    """
    n, m, s = int(targets.shape[0]), settings.batch_size, settings
    if not 1 <= m <= n:
        raise ConfigError("batch_size", f"must be in [1, {n}] (the training samples), got {m}")
    rng = np.random.Generator(np.random.PCG64([s.seed, THEORY_STREAM]))
    subset = torch.from_numpy(np.sort(rng.choice(n, size=min(s.samples or n, n), replace=False)))
    sub_x, sub_y = inputs.index_select(0, subset), targets.index_select(0, subset)
    cost: Counter[str] = Counter()

    def draw() -> torch.Tensor:
        return torch.from_numpy(rng.choice(n, size=m, replace=False))

    def hvp(v: torch.Tensor) -> torch.Tensor:
        cost["hessian_vector_products"] += 1
        return hessian_vector_product(flat, x, sub_x, sub_y, v)

    steps_at, losses = [], []
    batch_var, sample_var, hessian, signs, secants = [], [], [], [], []
    source = "per-sample gradients (torch.func.vmap), within-batch variance"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        x = x1.detach().clone()
        vector = torch.from_numpy(rng.standard_normal(flat.size).astype(np.float32))
        for point in range(s.points):
            if point:
                for step in range(s.steps):
                    batch = draw()
                    loss = flat.gradient(x, inputs[batch], targets[batch])
                    if not (math.isfinite(loss) and bool(torch.isfinite(flat.grads).all())):
                        done = point * s.steps - s.steps + step
                        raise ConfigError(
                            "theory_probe_lr", f"the probe diverged after {done} SGD steps; lower it"
                        )
                    x.sub_(flat.grads, alpha=s.probe_lr)
                cost["trajectory_steps"] += s.steps
            steps_at.append(point * s.steps)
            losses.append(flat.evaluate(x, inputs, targets)[0])
            cost["loss_evaluations"] += 1
            if not math.isfinite(losses[-1]):
                raise ConfigError("theory_probe_lr", f"the loss is {losses[-1]} at probe point {point}")

            batches = [draw() for _ in range(s.batches)]
            batch_var.append(minibatch_variance(flat, x, inputs, targets, batches))
            cost["minibatch_gradients"] += 2 * batch_var[-1].terms
            if m == 1:  # a mini-batch of one is a sample
                sample_var.append(batch_var[-1])
                source = "mini-batches of one sample"
            elif sample_var is not None:
                try:
                    sample_var.append(per_sample_variance(flat, x, inputs, targets, batches, n))
                    cost["per_sample_gradients"] += s.batches * m
                except PER_SAMPLE_FAILURES as err:
                    sample_var = None
                    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                    source = f"M·σ_M² (per-sample gradients unavailable: {reason})"

            eig = power_iteration(hvp, vector, s.hvp, s.tol)
            vector = eig.vector
            hessian.append(Measured(eig.magnitude, eig.residual, eig.iterations, int(subset.numel())))
            signs.append(1 if eig.value >= 0 else -1)

            _, g_x = loss_and_gradient(flat, x, sub_x, sub_y)
            y = x - s.probe_lr * g_x
            _, g_y = loss_and_gradient(flat, y, sub_x, sub_y)
            cost["subset_gradients"] += 2
            secants.append(Measured(secant(x, y, g_x, g_y), 0.0, 1, int(subset.numel())))

    batch_stat = _stat(batch_var, "standard error (pairs of mini-batches)")
    if sample_var is None:
        sample_stat = Stat(
            tuple(m * v for v in batch_stat.values),
            tuple(m * e for e in batch_stat.spread),
            batch_stat.samples,
            batch_stat.terms,
            batch_stat.spread_kind,
        )
    else:
        sample_stat = _stat(sample_var, "standard error (one term per mini-batch)")
    return Estimates(
        settings=s,
        n_train=n,
        parameters=flat.size,
        f_x1=losses[0],
        steps_at=tuple(steps_at),
        loss=tuple(losses),
        sigma2_batch=batch_stat,
        sigma2_sample=sample_stat,
        sigma2_sample_source=source,
        lipschitz_hessian=_stat(hessian, "residual ‖Hv − λv‖ (an eigenvalue lies within it)"),
        hessian_sign=tuple(signs),
        lipschitz_secant=_stat(secants, "none (a lower bound on L along the step)"),
        cost=dict(sorted(cost.items())),
    )
