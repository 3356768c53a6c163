"""Plain SGD and heavy-ball momentum as the server's optimizer."""

from __future__ import annotations

import torch

from asyncsgd.rules.base import OPTIMIZERS, Optimizer
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import setting

MOMENTUM = setting(
    "momentum", 0.9, "server momentum: μ of rule=momentum; the target total momentum of rule=async_momentum",
    0, 1, False, True,
)  # fmt: skip
NESTEROV = setting("nesterov", False, "Nesterov variant of rule=momentum")


@OPTIMIZERS.register("sgd", "Downpour: x ← x − γ·g (Dean et al. 2012)")
class SGD(Optimizer):
    """``x ← x − γ·g``: each push is applied on arrival (Downpour, Dean et al. 2012).

    Sparse updates touch only their coordinates, so a top-1% push costs 1% of a dense apply.
    """

    name = "sgd"
    in_support = True
    reference = "Dean et al., Large scale distributed deep networks, NeurIPS 2012"

    def step(self, params: torch.Tensor, update: Update, state: None, lr: float) -> None:
        update.add_to(params, alpha=-lr)


@OPTIMIZERS.register("momentum", "heavy ball on the server: v ← μv + g; x ← x − γ·v")
class Momentum(Optimizer):
    """``v ← μ·v + g``, then ``x ← x − γ·v`` (or ``x ← x − γ·(g + μ·v)`` with Nesterov).

    The convention of ``torch.optim.SGD`` with zero dampening. Under asynchrony the server's
    explicit momentum adds to the implicit momentum asynchrony already induces (Mitliagkas et al.
    2016), so μ usually needs to be lowered as the number of learners grows.
    """

    name = "momentum"
    settings = (MOMENTUM, NESTEROV)
    reference = "Polyak 1964; Sutskever, Martens, Dahl & Hinton, ICML 2013 (Nesterov form)"

    def __init__(self, momentum: float = 0.9, nesterov: bool = False) -> None:
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def init(self, params: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(params)

    def step(self, params: torch.Tensor, update: Update, state: torch.Tensor, lr: float) -> None:
        state.mul_(self.momentum)
        update.add_to(state)
        if self.nesterov:
            step = update.dense()
            step.add_(state, alpha=self.momentum)
            params.add_(step, alpha=-lr)
        else:
            params.add_(state, alpha=-lr)

    def memory_bytes(self, state: torch.Tensor) -> int:
        return state.numel() * state.element_size()
