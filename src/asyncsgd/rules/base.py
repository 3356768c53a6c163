"""Server-side update rules: remedies that reshape a decoded gradient, then an optimizer step.

A server rule is ``remedy_n ∘ … ∘ remedy_1`` followed by one optimizer::

    u   = decode(push)                       # dense or sparse Update
    u   = remedy_i(u, state_i, x, ctx)       # e.g. scale by 1/τ; may return None to drop the push
    x  ← optimizer(x, u, γ)                  # e.g. x ← x − γ·u

Remedies and optimizers are deterministic functions of their inputs and their explicit state; they
may update in place the tensors they own (the parameters, a momentum buffer), which is what keeps a
10^7-parameter apply within a few memory passes. A remedy never changes the update it is given: it
returns it, a new one (rescaling is a new :class:`Update` over the same tensors with another scale,
which costs nothing), or ``None``; so the chain is a composition of pure transforms. They know
nothing of time, threads or transport.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from asyncsgd.registry import Registry
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import Setting

OPTIMIZERS: Registry[type[Optimizer]] = Registry("rule")
REMEDIES: Registry[type[Remedy]] = Registry("remedy")

# What a push carries, as declared by the algorithm that produced it (asyncsgd.algorithms).
GRADIENT = "gradient"
"""One mini-batch gradient at the pulled parameters (Downpour)."""
GRADIENT_SUM = "gradient_sum"
"""The sum of H local gradients taken along a local trajectory (local SGD)."""
ELASTIC = "elastic_difference"
"""An elastic difference ``α(x_local − x_centre)``, added to the centre as is (EASGD, EAMSGD)."""
PUSH_KINDS = frozenset({GRADIENT, GRADIENT_SUM, ELASTIC})


@dataclass(frozen=True)
class ApplyContext:
    """Everything a remedy may need to know about the push being applied."""

    learner: int
    tau: int
    version: int
    """Server version before this push."""
    num_learners: int


class Remedy(ABC):
    """A server-side transform of the decoded gradient (a staleness remedy)."""

    name: ClassVar[str]
    settings: ClassVar[tuple[Setting | str, ...]] = ()
    """Run settings passed to the constructor as keywords of the same name: declared here, or
    the name of a run-level setting."""
    reference: ClassVar[str] = ""
    pushes: ClassVar[frozenset[str]] = PUSH_KINDS
    """The kinds of push the remedy is defined for (a ConfigError names any other)."""
    keeps_support: ClassVar[bool] = False
    """Returns an update over the coordinates it was given (or drops it) and writes no parameter."""

    def init(self, params: torch.Tensor, num_learners: int) -> Any:
        return None

    def on_pull(self, state: Any, learner: int, params: torch.Tensor) -> None:  # noqa: B027 (optional hook)
        """Called when ``learner`` reads ``params`` (e.g. to back up what it pulled)."""

    @abstractmethod
    def transform(self, update: Update, state: Any, params: torch.Tensor, ctx: ApplyContext) -> Update | None:
        """The update to apply, or ``None`` to discard the push; ``update`` itself is left as it was."""

    def memory_bytes(self, state: Any) -> int:
        """Server memory this remedy holds (reported in the summary)."""
        return 0


class Optimizer(ABC):
    """The last stage: turn an update into a parameter change at learning rate ``lr``."""

    name: ClassVar[str]
    settings: ClassVar[tuple[Setting | str, ...]] = ()
    """Run settings passed to the constructor as keywords of the same name: declared here, or
    the name of a run-level setting."""
    reference: ClassVar[str] = ""
    pushes: ClassVar[frozenset[str]] = frozenset({GRADIENT, GRADIENT_SUM})
    protocols: ClassVar[tuple[str, ...]] = ("async", "sync", "sequential")
    """The scheduling protocols the optimizer is defined for."""
    in_support: ClassVar[bool] = False
    """A sparse update changes only the parameters at its indices."""

    def init(self, params: torch.Tensor) -> Any:
        return None

    @abstractmethod
    def step(self, params: torch.Tensor, update: Update, state: Any, lr: float) -> None: ...

    def memory_bytes(self, state: Any) -> int:
        return 0


class ServerRule:
    """Remedies followed by an optimizer, with the per-rule state the server keeps."""

    def __init__(self, optimizer: Optimizer, lr: float, remedies: list[Remedy] | None = None) -> None:
        if not (lr > 0):
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.optimizer = optimizer
        self.lr = float(lr)
        self.remedies = list(remedies or [])

    @property
    def name(self) -> str:
        return "+".join([r.name for r in self.remedies] + [self.optimizer.name])

    @property
    def in_support(self) -> bool:
        """A sparse push changes only the parameters at its indices, whatever the state: engines
        may then refresh a learner's copy of the parameters by those coordinates alone."""
        return self.optimizer.in_support and all(r.keeps_support for r in self.remedies)

    def init(self, params: torch.Tensor, num_learners: int) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.init(params),
            "remedies": [r.init(params, num_learners) for r in self.remedies],
        }

    def on_pull(self, state: dict[str, Any], learner: int, params: torch.Tensor) -> None:
        for remedy, rs in zip(self.remedies, state["remedies"], strict=True):
            remedy.on_pull(rs, learner, params)

    def apply(
        self, params: torch.Tensor, update: Update, state: dict[str, Any], ctx: ApplyContext
    ) -> float | None:
        """Apply ``update`` to ``params`` in place; the effective rate, or ``None`` if dropped."""
        if not self.remedies:  # the common case, per push: no chain to walk
            self.optimizer.step(params, update, state["optimizer"], self.lr)
            return self.lr * update.scale
        for remedy, rs in zip(self.remedies, state["remedies"], strict=True):
            out = remedy.transform(update, rs, params, ctx)
            if out is None:
                return None
            update = out
        self.optimizer.step(params, update, state["optimizer"], self.lr)
        return self.lr * update.scale

    def memory_bytes(self, state: dict[str, Any]) -> int:
        own = self.optimizer.memory_bytes(state["optimizer"])
        return own + sum(r.memory_bytes(s) for r, s in zip(self.remedies, state["remedies"], strict=True))
