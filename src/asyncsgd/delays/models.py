"""Compute-time models for simulated learners, and the fixed-staleness model.

A delay model draws the seconds learner ``i`` spends computing one gradient, from a generator the
engine gives it (one private generator per learner, so adding a learner never changes another
learner's draws). All models are parameterised by their *mean* so that switching the distribution
keeps the average speed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from asyncsgd.registry import Registry
from asyncsgd.vocabulary.settings import Setting, setting

MAX_SIM_SECONDS = 1e9
"""Largest simulated time of one event (compute time, latency, apply): sums stay finite."""
DELAY_MEAN = setting(
    "delay_mean", 1.0, "mean compute time per gradient (simulated seconds)", 0, MAX_SIM_SECONDS
)
DELAY_SIGMA = setting("delay_sigma", 0.5, "log-space standard deviation of delay=lognormal", 0, 10)

DELAYS: Registry[type[DelayModel]] = Registry("delay model")


class DelayModel(ABC):
    settings: tuple[Setting | str, ...] = (DELAY_MEAN,)
    """Run settings passed to the constructor as keywords of the same name."""

    @abstractmethod
    def sample(self, learner: int, rng: np.random.Generator) -> float:
        """Seconds of compute for one gradient of ``learner``."""

    def draw(self, learner: int, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` consecutive samples at once (vectorised where the distribution allows)."""
        return np.array([self.sample(learner, rng) for _ in range(n)])

    def mean(self, learner: int) -> float:
        raise NotImplementedError


class DelaySampler:
    """Per-learner delay streams, drawn in blocks: one generator per learner, so adding a
    learner never changes another learner's delays."""

    BLOCK = 512

    def __init__(self, model: DelayModel, rngs: Sequence[np.random.Generator]) -> None:
        self.model = model
        self.rngs = list(rngs)
        self._blocks = [np.empty(0)] * len(self.rngs)
        self._pos = [0] * len(self.rngs)

    def __call__(self, learner: int) -> float:
        pos = self._pos[learner]
        block = self._blocks[learner]
        if pos == block.size:
            block = self._blocks[learner] = self.model.draw(learner, self.rngs[learner], self.BLOCK)
            pos = 0
        self._pos[learner] = pos + 1
        return float(block[pos])


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@DELAYS.register("constant", "every gradient takes exactly delay_mean seconds")
class Constant(DelayModel):
    def __init__(self, delay_mean: float = 1.0) -> None:
        self._mean = _positive("delay_mean", delay_mean)

    def sample(self, learner: int, rng: np.random.Generator) -> float:
        return self._mean

    def draw(self, learner: int, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self._mean)

    def mean(self, learner: int) -> float:
        return self._mean


@DELAYS.register("exponential", "exponential compute times with mean delay_mean")
class Exponential(DelayModel):
    def __init__(self, delay_mean: float = 1.0) -> None:
        self._mean = _positive("delay_mean", delay_mean)

    def sample(self, learner: int, rng: np.random.Generator) -> float:
        return float(self.draw(learner, rng, 1)[0])

    def draw(self, learner: int, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self._mean, n) if self._mean > 0 else np.zeros(n)

    def mean(self, learner: int) -> float:
        return self._mean


@DELAYS.register("lognormal", "log-normal compute times with mean delay_mean and log-sd delay_sigma")
class LogNormal(DelayModel):
    """``exp(N(μ, σ²))`` with ``μ = ln(mean) − σ²/2`` so that the mean is ``mean``."""

    settings = (DELAY_MEAN, DELAY_SIGMA)

    def __init__(self, delay_mean: float = 1.0, delay_sigma: float = 0.5) -> None:
        self._mean = _positive("delay_mean", delay_mean)
        self.sigma = _positive("delay_sigma", delay_sigma)

    def sample(self, learner: int, rng: np.random.Generator) -> float:
        return float(self.draw(learner, rng, 1)[0])

    def draw(self, learner: int, rng: np.random.Generator, n: int) -> np.ndarray:
        if self._mean == 0:
            return np.zeros(n)
        mu = math.log(self._mean) - self.sigma**2 / 2
        return rng.lognormal(mu, self.sigma, n)

    def mean(self, learner: int) -> float:
        return self._mean


class Heterogeneous(DelayModel):
    """Any base model, with some learners ``factor``× slower (stragglers)."""

    def __init__(self, base: DelayModel, slow: Sequence[int], factor: float) -> None:
        if not (factor >= 1.0):
            raise ValueError(f"slow_factor must be >= 1, got {factor!r}")
        self.base = base
        self.slow = frozenset(int(i) for i in slow)
        self.factor = float(factor)

    def _scale(self, learner: int) -> float:
        return self.factor if learner in self.slow else 1.0

    def sample(self, learner: int, rng: np.random.Generator) -> float:
        return self._scale(learner) * self.base.sample(learner, rng)

    def draw(self, learner: int, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._scale(learner) * self.base.draw(learner, rng, n)

    def mean(self, learner: int) -> float:
        return self._scale(learner) * self.base.mean(learner)


class StalenessModel(ABC):
    """Draws the staleness τ of the next update directly (controlled studies)."""

    max_tau: int

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> int: ...


STALENESS: Registry[type[StalenessModel]] = Registry("staleness distribution")


@STALENESS.register("uniform", "τ uniform on {0, …, staleness}")
class UniformStaleness(StalenessModel):
    def __init__(self, max_tau: int) -> None:
        self.max_tau = int(max_tau)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(0, self.max_tau + 1))


@STALENESS.register("constant", "τ = staleness for every update")
class ConstantStaleness(StalenessModel):
    def __init__(self, max_tau: int) -> None:
        self.max_tau = int(max_tau)

    def sample(self, rng: np.random.Generator) -> int:
        return self.max_tau


@STALENESS.register("geometric", "τ geometric on {0, 1, …} with mean staleness/2, capped at staleness")
class GeometricStaleness(StalenessModel):
    def __init__(self, max_tau: int) -> None:
        self.max_tau = int(max_tau)
        mean = max(self.max_tau / 2, 1e-9)
        self.p = 1.0 / (1.0 + mean)

    def sample(self, rng: np.random.Generator) -> int:
        return min(int(rng.geometric(self.p)) - 1, self.max_tau)
