"""What an algorithm is: a learner for the generic cycle, plus what the server does with its pushes.

Every engine drives the same learner cycle (see :mod:`asyncsgd.core.learner`)::

    pre_steps × local_step(batch) → receive(params, version) → post_steps × local_step(batch) → push()

An :class:`Algorithm` fills that cycle (which local steps, what is pushed) and declares what its
pushes carry (a gradient, a sum of local gradients, an elastic difference), so the assembly can
check which remedies apply and pick the server's optimizer. Engines never see an algorithm: they
only read ``pre_steps``/``post_steps`` and :attr:`~asyncsgd.core.learner.Learner.grads_at_pull`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from asyncsgd.codecs.memory import Compressor
from asyncsgd.core.learner import GradFn, Learner
from asyncsgd.registry import Registry
from asyncsgd.rules.base import GRADIENT, Optimizer
from asyncsgd.vocabulary.settings import Setting, setting

ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm")
LOCAL_STEPS = setting(
    "local_steps", 1, "localsgd: local SGD steps H per push (their gradients summed)", 1, 10**6
)


class Algorithm(ABC):
    """Base of the algorithms; subclasses register with ``@ALGORITHMS.register(name)``."""

    name: ClassVar[str]
    settings: ClassVar[tuple[Setting | str, ...]] = ()
    """Run settings passed to the constructor as keywords of the same name: declared here, or
    the name of a run-level setting (``"lr"``)."""
    reference: ClassVar[str] = ""
    pushes: ClassVar[str] = GRADIENT
    """What a push carries (one of :data:`asyncsgd.rules.base.PUSH_KINDS`)."""
    protocols: ClassVar[tuple[str, ...]] = ("async", "sync", "sequential")
    """The scheduling protocols the algorithm is defined for."""

    @property
    def steps_per_push(self) -> int:
        """Mini-batches behind one push (every local step of a cycle)."""
        return 1

    @abstractmethod
    def learner(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, init: torch.Tensor
    ) -> Learner:
        """Learner ``learner_id``; ``init`` is the initial parameter vector (copied if kept)."""

    def server_optimizer(self) -> Optimizer | None:
        """The optimizer the algorithm's server must use, or ``None`` for the configured rule."""
        return None

    def server_lr(self, lr: float) -> float:
        """The rate the server applies pushes with, given the run's learning rate γ."""
        return lr


class LocalStepsAlgorithm(Algorithm, ABC):
    """An algorithm whose learners take ``local_steps`` SGD steps of rate ``lr`` per push."""

    def __init__(self, lr: float = 0.05, local_steps: int = 1) -> None:
        self.lr = check_rate("lr", lr)
        self.local_steps = check_steps(local_steps)

    @property
    def steps_per_push(self) -> int:
        return self.local_steps


def check_steps(local_steps: int) -> int:
    if isinstance(local_steps, bool) or not isinstance(local_steps, int) or local_steps < 1:
        raise ValueError(f"local_steps must be an integer >= 1, got {local_steps!r}")
    return local_steps


def check_rate(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and 0.0 < value < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
