"""Elastic averaging SGD and its momentum form, asynchronous (Zhang, Choromanska & LeCun 2015)."""

from __future__ import annotations

import torch

from asyncsgd.algorithms.base import ALGORITHMS, LocalStepsAlgorithm
from asyncsgd.codecs.memory import Compressor
from asyncsgd.core.learner import Batch, GradFn, Learner
from asyncsgd.rules.base import ELASTIC, Optimizer
from asyncsgd.vocabulary.messages import Update
from asyncsgd.vocabulary.settings import setting

EXCHANGE_PERIOD = setting(
    "exchange_period", 1, "easgd/eamsgd: local steps τ_c between elastic exchanges with the centre", 1, 10**6
)
LOCAL_MOMENTUM = setting(
    "local_momentum", 0.9, "eamsgd: Nesterov momentum δ of the learners' local steps", 0, 1, False, True
)
ELASTIC_ALPHA = setting(
    "elastic_alpha", 0.1, "easgd/eamsgd: moving rate α of the elastic exchange (β = p·α)", 0, 1, True
)


class ElasticLearner(Learner):
    """Asynchronous EASGD at learner i (Zhang et al. 2015, Algorithm 1), as a cycle of
    ``pre_steps = τ_c`` local steps, a pull and a push::

        τ_c × ( x^i ← x^i − η·∇f(x^i; batch) )
        pull x̃;  e = α·(x^i − x̃);  x^i ← x^i − e;  push e

    Algorithm 1 exchanges before the first step; here the first exchange comes after τ_c steps,
    which is the same run because learners and centre start at the same point (the skipped
    exchange would send e = 0).
    """

    def __init__(
        self,
        learner_id: int,
        compressor: Compressor,
        grad_fn: GradFn,
        seed: int,
        init: torch.Tensor,
        lr: float,
        local_steps: int,
        alpha: float,
    ) -> None:
        super().__init__(learner_id, compressor, grad_fn, seed)
        self.pre_steps, self.post_steps = local_steps, 0
        self.lr, self.alpha = lr, alpha
        self.local = init.detach().clone()
        self._diff = torch.empty_like(self.local)

    grads_at_pull = False

    def local_step(self, batch: Batch) -> float:
        self._loss, grad = self.gradient(self.local, batch)
        self.local.add_(grad, alpha=-self.lr)
        return self._loss

    def receive(self, params: torch.Tensor, version: int) -> None:
        self._version = version
        torch.sub(self.local, params, out=self._diff)
        self._diff.mul_(self.alpha)
        self.local.sub_(self._diff)
        self._grad = self._diff

    def state_dict(self) -> dict:
        return {**super().state_dict(), "local": self.local.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.local.copy_(state["local"])


class MomentumElasticLearner(ElasticLearner):
    """Asynchronous EAMSGD at learner i (Zhang et al. 2015, Algorithm 2): the elastic exchange of
    :class:`ElasticLearner`, with Nesterov momentum δ in the local steps::

        v ← δ·v − η·∇f(x^i + δ·v; batch);   x^i ← x^i + v
    """

    def __init__(self, *args: object, momentum: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.momentum = momentum
        self.velocity = torch.zeros_like(self.local)
        self._ahead = torch.empty_like(self.local)

    def local_step(self, batch: Batch) -> float:
        torch.add(self.local, self.velocity, alpha=self.momentum, out=self._ahead)
        self._loss, grad = self.gradient(self._ahead, batch)
        self.velocity.mul_(self.momentum).add_(grad, alpha=-self.lr)
        self.local.add_(self.velocity)
        return self._loss

    def state_dict(self) -> dict:
        return {**super().state_dict(), "velocity": self.velocity.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.velocity.copy_(state["velocity"])


class ElasticCentre(Optimizer):
    """The centre's side of the exchange: ``x̃ ← x̃ + e`` as pushed (rate 1; a remedy's scale applies)."""

    name = "elastic"
    pushes = frozenset({ELASTIC})
    in_support = True

    def step(self, params: torch.Tensor, update: Update, state: None, lr: float) -> None:
        update.add_to(params, alpha=lr)


@ALGORITHMS.register("easgd", "elastic averaging: local SGD steps, exchange α(x − x̃) every τ_c steps")
class EASGD(LocalStepsAlgorithm):
    """Asynchronous EASGD (Zhang, Choromanska & LeCun, NeurIPS 2015, Algorithm 1)::

        learner i: every τ_c local steps  x^i ← x^i − η·∇f(x^i)
                   pull x̃;  e = α·(x^i − x̃);  x^i ← x^i − e;  push e
        centre:    x̃ ← x̃ + e                                  (applied on arrival)

    τ_c = ``exchange_period``, η = ``lr``, α = ``elastic_alpha`` (the paper's β = p·α; it uses
    β = 0.9 to 0.98). The server applies the elastic difference as pushed; it replaces the
    configured ``rule``. Asynchronous only (``protocol`` async or sequential). The local steps
    come before the pull, so an exchange is stale only by its transport: with zero ``latency``
    and ``server_time`` every τ is 0, as in the paper's atomic exchange.
    """

    name = "easgd"
    settings = ("lr", EXCHANGE_PERIOD, ELASTIC_ALPHA)
    pushes = ELASTIC
    protocols = ("async", "sequential")
    reference = "Zhang, Choromanska & LeCun, Deep learning with elastic averaging SGD, NeurIPS 2015"

    def __init__(self, lr: float = 0.05, exchange_period: int = 1, elastic_alpha: float = 0.1) -> None:
        super().__init__(lr, exchange_period)
        if not (isinstance(elastic_alpha, int | float) and 0.0 < elastic_alpha <= 1.0):
            raise ValueError(f"elastic_alpha must be in (0, 1], got {elastic_alpha!r}")
        self.alpha = float(elastic_alpha)

    def learner(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, init: torch.Tensor
    ) -> Learner:
        return ElasticLearner(
            learner_id, compressor, grad_fn, seed, init, self.lr, self.local_steps, self.alpha
        )

    def server_optimizer(self) -> Optimizer:
        return ElasticCentre()

    def server_lr(self, lr: float) -> float:
        return 1.0


@ALGORITHMS.register("eamsgd", "EASGD with Nesterov momentum δ in the local steps")
class EAMSGD(EASGD):
    """Asynchronous EAMSGD (Zhang, Choromanska & LeCun, NeurIPS 2015, Algorithm 2): EASGD whose
    local steps use Nesterov momentum δ = ``local_momentum`` (the paper uses 0.99)::

        v ← δ·v − η·∇f(x^i + δ·v);   x^i ← x^i + v
    """

    name = "eamsgd"
    settings = ("lr", EXCHANGE_PERIOD, ELASTIC_ALPHA, LOCAL_MOMENTUM)

    def __init__(
        self,
        lr: float = 0.05,
        exchange_period: int = 1,
        elastic_alpha: float = 0.1,
        local_momentum: float = 0.9,
    ) -> None:
        super().__init__(lr, exchange_period, elastic_alpha)
        if not (isinstance(local_momentum, int | float) and 0.0 <= local_momentum < 1.0):
            raise ValueError(f"local_momentum must be in [0, 1), got {local_momentum!r}")
        self.momentum = float(local_momentum)

    def learner(
        self, learner_id: int, compressor: Compressor, grad_fn: GradFn, seed: int, init: torch.Tensor
    ) -> Learner:
        return MomentumElasticLearner(
            learner_id, compressor, grad_fn, seed, init, self.lr, self.local_steps, self.alpha,
            momentum=self.momentum,
        )  # fmt: skip
