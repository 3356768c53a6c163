"""A learner as a pure state machine: gradient at the pulled point → compression → push.

Every protocol's learner runs the same cycle, which is all an engine needs to know::

    pre_steps × local_step(batch)    # local work before talking to the server (EASGD: τ_c steps)
    receive(params, version)         # the pull
    post_steps × local_step(batch)   # work on what was pulled (Downpour: one gradient)
    push() -> Push                   # the push

The Downpour learner here has ``pre_steps = 0`` and ``post_steps = 1``: it computes one gradient at
exactly the parameters it pulled and pushes it, compressed. Other protocols subclass
:class:`Learner` and change the cycle and what is pushed, never the engines.

State: the compressor's memory (an error-feedback residual, or nothing) and a private generator
that draws one seed per push for randomised codecs; the seed travels in the payload, so the server
can decode without any shared random state, and the global RNG is never touched. The gradient
function is injected (``grad_fn(x, batch) -> (loss, grad)``): the engine decides where the model
lives and which batch is used; the learner only sees tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from asyncsgd.codecs.memory import Compressor
from asyncsgd.vocabulary.messages import Push

Batch = tuple[torch.Tensor, torch.Tensor]
GradFn = Callable[[torch.Tensor, Batch], tuple[float, torch.Tensor]]

SEED_STREAM = 0x5EED  # keeps push seeds independent of every other stream derived from the run seed
SEED_BLOCK = 256


class Learner:
    """Downpour: ``receive(x, v)``, one gradient ``g = ∇f(x; batch)``, push ``C(g)`` stamped ``v``."""

    pre_steps: int = 0
    post_steps: int = 1
    grads_at_pull: bool = True
    """Every gradient is taken at exactly the pulled parameters (so an engine may hand the learner
    the server's own buffer); False for learners that step along a trajectory of their own."""

    def __init__(self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int) -> None:
        self.id = learner_id
        self.compressor = compressor
        self.grad_fn = grad_fn
        self.memory = compressor.init_state()
        self._rng = np.random.Generator(np.random.PCG64([seed, learner_id, SEED_STREAM]))
        self._seeds = self._rng.integers(0, 2**63 - 1, SEED_BLOCK)
        self.pushes = 0
        self._params: torch.Tensor | None = None
        self._version = -1
        self._grad: torch.Tensor | None = None
        self._loss = float("nan")

    # -- the cycle ---------------------------------------------------------------------------
    def receive(self, params: torch.Tensor, version: int) -> None:
        """The pull: parameters (valid until the next post step ends) and their version."""
        self._params, self._version = params, version

    def local_step(self, batch: Batch) -> float:
        """One mini-batch of local work; returns its loss (the engine times this as compute)."""
        if self._params is None:
            raise RuntimeError(f"learner {self.id}: local_step before receive")
        self._loss, self._grad = self.gradient(self._params, batch)
        return self._loss

    def push(self) -> Push:
        """Compress what the cycle produced into a push (the engine times this as compress)."""
        if self._grad is None:
            raise RuntimeError(f"learner {self.id}: push before local_step")
        push = self.encode(self._grad, self._version, self._loss)
        self._grad = None
        return push

    # -- building blocks ---------------------------------------------------------------------
    def gradient(self, params: torch.Tensor, batch: Batch) -> tuple[float, torch.Tensor]:
        """Mini-batch loss and gradient at ``params``."""
        return self.grad_fn(params, batch)

    def encode(self, vector: torch.Tensor, pulled_version: int, loss: float = float("nan")) -> Push:
        """Compress ``vector`` (updating the memory) into a push stamped with ``pulled_version``."""
        slot = self.pushes % SEED_BLOCK
        if slot == 0 and self.pushes:
            self._seeds = self._rng.integers(0, 2**63 - 1, SEED_BLOCK)
        payload, self.memory = self.compressor.encode(vector, self.memory, int(self._seeds[slot]))
        self.pushes += 1
        return Push(self.id, pulled_version, payload, loss)

    def state_dict(self) -> dict[str, Any]:
        """Plain values only (tensors, numbers, strings, containers of them), so a checkpoint can be
        read back without unpickling code: the seed block travels as an int64 tensor."""
        return {
            "memory": None if self.memory is None else self.memory.clone(),
            "rng": self._rng.bit_generator.state,
            "seeds": torch.from_numpy(self._seeds.copy()),
            "pushes": int(self.pushes),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["memory"] is not None:
            self.memory = state["memory"].clone()
        self._rng.bit_generator.state = state["rng"]
        self._seeds = torch.as_tensor(state["seeds"], dtype=torch.int64).numpy().copy()
        self.pushes = int(state["pushes"])
