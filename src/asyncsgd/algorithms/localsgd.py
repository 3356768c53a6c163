"""Local SGD: H local steps from the pulled point, then push the sum of their gradients."""

from __future__ import annotations

import torch

from asyncsgd.algorithms.base import ALGORITHMS, LOCAL_STEPS, LocalStepsAlgorithm
from asyncsgd.codecs.memory import Compressor
from asyncsgd.core.learner import Batch, GradFn, Learner
from asyncsgd.rules.base import GRADIENT_SUM
from asyncsgd.vocabulary.messages import Push


class LocalSGDLearner(Learner):
    """``x₀ = pulled``; ``x_{h+1} = x_h − γ·∇f(x_h; batch_h)`` for h < H; push ``Σ_h ∇f(x_h; batch_h)``.

    The first gradient is taken at the pulled parameters themselves, and with H = 1 the learner
    pushes exactly the tensor Downpour pushes, so H = 1 is Downpour bit for bit. For H > 1 it
    keeps two vectors (the local point and the running sum); the last step's update of the local
    point is skipped, since the next pull replaces it.
    """

    def __init__(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, lr: float, local_steps: int
    ) -> None:
        super().__init__(learner_id, compressor, grad_fn, seed)
        self.post_steps = local_steps
        self.lr = lr
        self._step = 0
        self._point = torch.empty(0)
        self._sum = torch.empty(0)

    @property
    def grads_at_pull(self) -> bool:
        return self.post_steps == 1

    def receive(self, params: torch.Tensor, version: int) -> None:
        super().receive(params, version)
        self._step = 0

    def local_step(self, batch: Batch) -> float:
        if self._params is None:
            raise RuntimeError(f"learner {self.id}: local_step before receive")
        first, last = self._step == 0, self._step == self.post_steps - 1
        loss, grad = self.gradient(self._params if first else self._point, batch)
        if first and last:
            self._grad = grad  # H = 1: push the gradient buffer itself, exactly as Downpour does
        elif first:
            if self._sum.numel() != grad.numel():
                self._sum, self._point = torch.empty_like(grad), torch.empty_like(grad)
            self._sum.copy_(grad)
            torch.add(self._params, grad, alpha=-self.lr, out=self._point)
            self._grad = self._sum
        else:
            self._sum.add_(grad)
            if not last:
                self._point.add_(grad, alpha=-self.lr)
        self._step += 1
        self._loss = loss
        return loss

    def push(self) -> Push:
        if self._step != self.post_steps:
            raise RuntimeError(f"learner {self.id}: push after {self._step} of {self.post_steps} local steps")
        return super().push()


@ALGORITHMS.register("localsgd", "H local SGD steps from the pulled point, push the sum of their gradients")
class LocalSGD(LocalStepsAlgorithm):
    """Local SGD on a parameter server (Stich 2019; Lin, Stich, Patel & Jaggi 2020; Yu, Yang &
    Zhu 2019), which is also Downpour with n_fetch = n_push = H (Dean et al. 2012)::

        learner: pull x;  x₀ = x;  x_{h+1} = x_h − γ·g_h,  g_h = ∇f(x_h; batch_h),  h < H
                 push C(Σ_h g_h)                               (= (x − x_H)/γ in exact arithmetic)
        server:  x ← rule(x, Σ_h g_h)      (sgd: x ← x − γ·Σ_h g_h, the learner's model delta)

    H = ``local_steps``; γ = ``lr`` on both sides. Pushing the gradient sum rather than the delta
    keeps the server rule unchanged and makes H = 1 exactly Downpour. With ``protocol = "sync"``
    the server averages the p sums: periodic model averaging (parallel restarted SGD).
    """

    name = "localsgd"
    settings = ("lr", LOCAL_STEPS)
    pushes = GRADIENT_SUM
    reference = (
        "Stich, Local SGD converges fast and communicates little, ICLR 2019; "
        "Lin, Stich, Patel & Jaggi, ICLR 2020; Yu, Yang & Zhu, AAAI 2019"
    )

    def learner(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, init: torch.Tensor
    ) -> Learner:
        return LocalSGDLearner(learner_id, compressor, grad_fn, seed, self.lr, self.local_steps)
