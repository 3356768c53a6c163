"""Learner-side compression policies: send ``C(g)`` as is, or with error feedback.

Error feedback (the memory of Stich, Cordonnier & Jaggi 2018; Seide et al. 2014; Karimireddy et
al. 2019) keeps what compression dropped and adds it back before the next encode::

    v = m + g            # compensated input
    send C(v)
    m ← v − decode(C(v)) # new residual

so ``decode(sent) + m_new = v`` (exactly, for sparsifiers: kept coordinates are copied and
zeroed). **What is stored.** Stich et al. accumulate the learning-rate-scaled gradient ``η·g``.
asyncsgd stores the raw gradient ``g``: in a parameter server the learner does not know the rate
its push will be applied with (a staleness-aware rule picks γ/τ only when the push arrives, and a
schedule may change γ meanwhile), so it cannot pre-scale. With a constant server rate γ the two
are the same algorithm, since ``m_ours = m_Stich / γ`` at every step; with a varying rate, old
residual mass is applied at the rate of the push that finally carries it.

The state is one residual vector per learner; wrappers never share state between learners.
"""

from __future__ import annotations

from typing import Protocol

import torch

from asyncsgd.codecs.base import Codec
from asyncsgd.vocabulary.messages import Payload


class Compressor(Protocol):
    """What a learner runs on its gradient: a codec plus a memory policy."""

    codec: Codec

    def init_state(self) -> torch.Tensor | None: ...

    def encode(
        self, grad: torch.Tensor, state: torch.Tensor | None, seed: int
    ) -> tuple[Payload, torch.Tensor | None]: ...


class Memoryless:
    """Send ``C(g)``; whatever the codec drops is lost."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def init_state(self) -> None:
        return None

    def encode(self, grad: torch.Tensor, state: None, seed: int) -> tuple[Payload, None]:
        return self.codec.encode(grad, seed), None


class ErrorFeedback:
    """Send ``C(m + g)`` and keep ``m ← m + g − decode(C(m + g))`` (works with any codec)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def init_state(self) -> torch.Tensor:
        return torch.zeros(self.codec.size, dtype=torch.float32)

    def encode(
        self, grad: torch.Tensor, state: torch.Tensor | None, seed: int
    ) -> tuple[Payload, torch.Tensor]:
        if state is None:
            state = self.init_state()
        state.add_(grad)
        payload = self.codec.encode(state, seed)
        self.codec.decode(payload).add_to(state, alpha=-1.0)
        return payload, state


def make_compressor(codec: Codec, error_feedback: bool) -> Compressor:
    return ErrorFeedback(codec) if error_feedback else Memoryless(codec)
