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

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.theory.curvature import power_iteration, secant
from asyncsgd.theory.objective import hessian_vector_product, loss_and_gradient
from asyncsgd.theory.variance import Measured, minibatch_variance, per_sample_variance
from asyncsgd.vocabulary.flat import FlatModel

THEORY_STREAM = 0x7E0  # separates the probe's draws from every other stream of the run seed
PER_SAMPLE_FAILURES = (RuntimeError, NotImplementedError, ValueError, TypeError)


@dataclass(frozen=True)
class ProbeSettings:
    """How the constants are measured (the ``theory_*`` settings of a run config)."""

    batch_size: int
    points: int = 5
    steps: int = 50
    probe_lr: float = 0.05
    batches: int = 32
    hvp: int = 20
    samples: int = 512
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


class _Probe:
    """One probe's state: the data, its private generator, the Hessian subset and the counters."""

    def __init__(
        self, flat: FlatModel, inputs: torch.Tensor, targets: torch.Tensor, settings: ProbeSettings
    ) -> None:
        self.flat, self.inputs, self.targets, self.s = flat, inputs, targets, settings
        self.n = int(targets.shape[0])
        if not 1 <= settings.batch_size <= self.n:
            raise ConfigError(
                "batch_size", f"must be in [1, {self.n}] (training samples), got {settings.batch_size}"
            )
        self.rng = np.random.Generator(np.random.PCG64([settings.seed, THEORY_STREAM]))
        size = min(settings.samples or self.n, self.n)
        subset = torch.from_numpy(np.sort(self.rng.choice(self.n, size=size, replace=False)))
        self.sub_x, self.sub_y = inputs.index_select(0, subset), targets.index_select(0, subset)
        self.vector = torch.from_numpy(self.rng.standard_normal(flat.size).astype(np.float32))
        self.cost: Counter[str] = Counter()
        self.per_sample_failure: str | None = None

    def draw(self) -> torch.Tensor:
        """A mini-batch of M distinct samples, uniformly at random."""
        return torch.from_numpy(self.rng.choice(self.n, size=self.s.batch_size, replace=False))

    def walk(self, x: torch.Tensor, done: int) -> None:
        """``steps`` SGD steps from ``x`` in place (``done`` steps already taken)."""
        flat = self.flat
        for step in range(self.s.steps):
            batch = self.draw()
            loss = flat.gradient(x, self.inputs[batch], self.targets[batch])
            if not (math.isfinite(loss) and bool(torch.isfinite(flat.grads).all())):
                raise ConfigError(
                    "theory_probe_lr", f"the probe diverged after {done + step} SGD steps; lower it"
                )
            x.sub_(flat.grads, alpha=self.s.probe_lr)
        self.cost["trajectory_steps"] += self.s.steps

    def loss(self, x: torch.Tensor, point: int) -> float:
        value = self.flat.evaluate(x, self.inputs, self.targets)[0]
        self.cost["loss_evaluations"] += 1
        if not math.isfinite(value):
            raise ConfigError("theory_probe_lr", f"the loss is {value} at probe point {point}")
        return value

    def noise(self, x: torch.Tensor) -> tuple[Measured, Measured | None]:
        """``σ_M²`` and (unless per-sample gradients are unavailable) ``σ²`` on fresh batches."""
        batches = [self.draw() for _ in range(self.s.batches)]
        batch = minibatch_variance(self.flat, x, self.inputs, self.targets, batches)
        self.cost["minibatch_gradients"] += 2 * batch.terms
        if self.per_sample_failure is not None:
            return batch, None
        try:
            sample = per_sample_variance(self.flat, x, self.inputs, self.targets, batches, self.n)
        except PER_SAMPLE_FAILURES as err:
            text = str(err).strip()
            self.per_sample_failure = text.splitlines()[0] if text else type(err).__name__
            return batch, None
        self.cost["per_sample_gradients"] += self.s.batches * self.s.batch_size
        return batch, sample

    def hvp(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.cost["hessian_vector_products"] += 1
        return hessian_vector_product(self.flat, x, self.sub_x, self.sub_y, v)

    def hessian(self, x: torch.Tensor) -> tuple[Measured, int]:
        """``|λ_max|`` (spread: the residual) and its sign, warm-started from the last point."""
        eig = power_iteration(lambda v: self.hvp(x, v), self.vector, self.s.hvp, self.s.tol)
        self.vector = eig.vector
        sign = 1 if eig.value >= 0 else -1
        return Measured(eig.magnitude, eig.residual, eig.iterations, int(self.sub_y.shape[0])), sign

    def secant(self, x: torch.Tensor) -> Measured:
        """The secant over one gradient step of the probe's rate, on the Hessian subset."""
        _, g_x = loss_and_gradient(self.flat, x, self.sub_x, self.sub_y)
        y = x - self.s.probe_lr * g_x
        _, g_y = loss_and_gradient(self.flat, y, self.sub_x, self.sub_y)
        self.cost["subset_gradients"] += 2
        return Measured(secant(x, y, g_x, g_y), 0.0, 1, int(self.sub_y.shape[0]))


def estimate(
    flat: FlatModel, x1: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, settings: ProbeSettings
) -> Estimates:
    """Measure the constants at ``settings.points`` probe points, starting from ``x1``.

    ``(inputs, targets)`` is the training set: ``f`` is the mean loss over it. ``flat`` is
    scratch space (its buffers are overwritten); ``x1`` is not modified.
    """
    probe = _Probe(flat, inputs, targets, settings)
    steps_at, losses, signs = [], [], []
    batch_var, sample_var, hessian, secants = [], [], [], []
    with torch.random.fork_rng(devices=[]):  # the CPU generator, restored on the way out
        torch.default_generator.manual_seed(settings.seed)
        x = x1.detach().clone()
        for point in range(settings.points):
            if point:
                probe.walk(x, done=(point - 1) * settings.steps)
            steps_at.append(point * settings.steps)
            losses.append(probe.loss(x, point))
            batch, sample = probe.noise(x)
            batch_var.append(batch)
            sample_var.append(sample)
            top, sign = probe.hessian(x)
            hessian.append(top)
            signs.append(sign)
            secants.append(probe.secant(x))

    m = settings.batch_size
    batch_stat = _stat(batch_var, "standard error (pairs of mini-batches)")
    if probe.per_sample_failure is None:
        sample_stat = _stat(sample_var, "standard error (one term per mini-batch)")  # type: ignore[arg-type]
        source = "per-sample gradients (torch.func.vmap), within-batch variance"
    else:
        scaled = [Measured(m * b.value, m * b.stderr, b.terms, b.samples) for b in batch_var]
        sample_stat = _stat(scaled, batch_stat.spread_kind)
        source = f"M·σ_M² (per-sample gradients unavailable: {probe.per_sample_failure})"
    return Estimates(
        settings=settings,
        n_train=probe.n,
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
        cost=dict(sorted(probe.cost.items())),
    )
