"""Downpour: one gradient at the pulled parameters per push (Dean et al. 2012)."""

from __future__ import annotations

import torch

from asyncsgd.algorithms.base import ALGORITHMS, Algorithm
from asyncsgd.codecs.memory import Compressor
from asyncsgd.core.learner import GradFn, Learner


@ALGORITHMS.register("downpour", "pull, one gradient at the pulled point, push it (Dean et al. 2012)")
class Downpour(Algorithm):
    """Downpour SGD (Dean et al., NeurIPS 2012) with n_fetch = n_push = 1::

        learner: pull (x, v);  g = ∇f(x; batch);  push C(g) stamped v
        server:  x ← rule(x, g)          (sgd: x ← x − γ·g)

    The cycle is ``pre_steps = 0``, ``post_steps = 1``. Its n_fetch = n_push = H variant, which
    accrues H local steps before pushing, is ``algorithm = "localsgd"``.
    """

    name = "downpour"
    reference = "Dean et al., Large scale distributed deep networks, NeurIPS 2012"

    def learner(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, init: torch.Tensor
    ) -> Learner:
        return Learner(learner_id, compressor, grad_fn, seed)
