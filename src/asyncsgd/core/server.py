"""The parameter server as a pure state machine.

State: the flat parameter vector ``x``, a version counter ``v`` (the number of updates applied),
the rule's state, and counters. Transitions:

* ``pull(learner)`` → ``(x, v)``; the caller copies ``x`` before the next ``apply``.
* ``apply(push)`` → :class:`~asyncsgd.vocabulary.messages.ApplyRecord`. The staleness of the push is
  ``τ = v − v_pulled``, the number of updates other pushes made between this learner's pull and
  its push (Lian et al. 2015; Zhang et al. 2016). A valid push is decoded, passed through the
  rule, and increments ``v``; an invalid one (unknown learner, version from the future, wrong
  codec, shape or dtype, NaN/Inf values) is counted per learner and reason and changes nothing.
* ``apply_round(pushes)`` averages a barrier's worth of pushes into one update (synchronous SGD).

No clocks, threads or I/O: engines decide when these transitions happen.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch

from asyncsgd.codecs.base import Codec
from asyncsgd.rules.base import ApplyContext, ServerRule
from asyncsgd.vocabulary.messages import ApplyRecord, Push, Rejection, Update


class ParameterServer:
    def __init__(
        self,
        params: torch.Tensor,
        codec: Codec,
        rule: ServerRule,
        num_learners: int,
        *,
        check_finite: bool = True,
        copy: bool = True,
    ) -> None:
        if params.dim() != 1 or params.dtype != torch.float32:
            raise ValueError("server parameters must be a flat float32 vector")
        if params.numel() != codec.size:
            raise ValueError(f"codec is built for {codec.size} parameters, got {params.numel()}")
        if num_learners < 1:
            raise ValueError(f"num_learners must be >= 1, got {num_learners}")
        self.params = params.detach().clone() if copy else params.detach()
        """The server's vector; with ``copy=False`` it is the caller's buffer (the simulator lets
        its learner model compute in place, since every gradient is taken at pull time)."""
        self.codec = codec
        self.rule = rule
        self.num_learners = num_learners
        self.check_finite = check_finite
        self.version = 0
        self.rule_state = rule.init(self.params, num_learners)
        self.rejected: dict[int, Counter[str]] = {}
        self.dropped = 0

    def adopt_version(self, version: int) -> None:
        """Take ``version`` as the count of updates applied: a server over a vector that other
        servers also update (one per process, over shared memory) reads the shared count first."""
        self.version = version

    # -- reads -------------------------------------------------------------------------------
    def pull(self, learner: int) -> tuple[torch.Tensor, int]:
        """Current parameters (a live view: copy before the next apply) and version."""
        self.rule.on_pull(self.rule_state, learner, self.params)
        return self.params, self.version

    def note_stale_read(self, learner: int, params: torch.Tensor) -> None:
        """Tell the rule that ``learner`` read an older snapshot ``params`` (fixed-τ simulation)."""
        self.rule.on_pull(self.rule_state, learner, params)

    # -- validation --------------------------------------------------------------------------
    def validate(self, push: Push) -> Rejection | None:
        """Why ``push`` must be rejected, or ``None``."""
        if not (0 <= push.learner < self.num_learners):
            return Rejection(
                "unknown_learner", f"unknown learner id {push.learner} (have {self.num_learners})"
            )
        if not (0 <= push.pulled_version <= self.version):
            return Rejection("version", f"pulled version {push.pulled_version} outside [0, {self.version}]")
        return self.codec.check(push.payload)

    @staticmethod
    def non_finite(push: Push) -> Rejection | None:
        """Why the payload holds a NaN or Inf, or ``None`` (exact).

        Each float array is read once, by its dot product with itself, which NaN or Inf anywhere
        makes non-finite; only an array whose dot is not finite (NaN/Inf, or a finite array whose
        squared norm overflows float32) pays ``torch.isfinite``, which allocates a mask and takes
        11 to 23 times as long as the dot here (``python -m benchmarks.shard_decode``)."""
        for key, value in push.payload.scalars.items():
            if isinstance(value, float) and not math.isfinite(value):
                return Rejection("non_finite", f"non-finite scalar {key!r}")
        for key, arr in push.payload.arrays.items():
            if not arr.is_floating_point():
                continue
            flat = arr.reshape(-1)
            if not math.isfinite(float(torch.dot(flat, flat))) and not bool(torch.isfinite(flat).all()):
                return Rejection("non_finite", f"non-finite values in {key!r}")
        return None

    def _decode_checked(self, push: Push) -> tuple[Update, float] | Rejection:
        """Decode a well-formed push and take its norm, rejecting NaN/Inf content.

        A NaN or Inf anywhere makes the decoded norm non-finite, so the norm the record needs
        anyway doubles as the finiteness check; only a non-finite norm (NaN/Inf content, or a
        finite vector whose squared norm overflows float32) pays for the exact check.
        """
        update = self.codec.decode(push.payload)
        norm = update.norm()
        if self.check_finite and not math.isfinite(norm):
            reason = self.non_finite(push)
            if reason is not None or not torch.isfinite(update.values).all():
                return reason or Rejection("non_finite", "decoded update is not finite")
        return update, norm

    def _reject(self, push: Push, reason: Rejection) -> ApplyRecord:
        self.rejected.setdefault(push.learner, Counter())[reason.code] += 1
        return ApplyRecord(
            learner=push.learner,
            pulled_version=push.pulled_version,
            version=self.version,
            tau=max(self.version - push.pulled_version, 0),
            nbytes=push.payload.nbytes,
            accepted=False,
            applied=False,
            reason=reason.message,
            code=reason.code,
        )

    # -- transitions -------------------------------------------------------------------------
    def apply(self, push: Push) -> ApplyRecord:
        """Validate, decode and apply one push; τ = version − pulled version."""
        reason = self.validate(push)
        decoded = self._decode_checked(push) if reason is None else reason
        if isinstance(decoded, Rejection):
            return self._reject(push, decoded)
        update, grad_norm = decoded
        tau = self.version - push.pulled_version
        ctx = ApplyContext(push.learner, tau, self.version, self.num_learners)
        support = update.indices if update.is_sparse and self.rule.in_support else None
        lr = self.rule.apply(self.params, update, self.rule_state, ctx)
        if lr is None:
            self.dropped += 1
        else:
            self.version += 1
        return ApplyRecord(
            learner=push.learner,
            pulled_version=push.pulled_version,
            version=self.version,
            tau=tau,
            nbytes=push.payload.nbytes,
            applied=lr is not None,
            grad_norm=grad_norm,
            lr=float("nan") if lr is None else lr,
            support=support if lr is not None else None,
        )

    def apply_round(self, pushes: list[Push]) -> list[ApplyRecord]:
        """Synchronous SGD: average the valid pushes of one barrier and apply them as one update."""
        valid: list[Push] = []
        records: dict[int, ApplyRecord] = {}
        total = torch.zeros_like(self.params)
        norms = []
        for i, push in enumerate(pushes):
            reason = self.validate(push)
            decoded = self._decode_checked(push) if reason is None else reason
            if isinstance(decoded, Rejection):
                records[i] = self._reject(push, decoded)
                continue
            valid.append(push)
            update, norm = decoded
            norms.append(norm)
            update.add_to(total)
        if not valid:
            return [records[i] for i in range(len(pushes))]
        mean = Update(total, self.params.numel(), scale=1.0 / len(valid))
        tau = max(self.version - p.pulled_version for p in valid)
        ctx = ApplyContext(-1, tau, self.version, self.num_learners)
        lr = self.rule.apply(self.params, mean, self.rule_state, ctx)
        before = self.version
        if lr is None:
            self.dropped += 1
        else:
            self.version += 1
        out, norm_iter = [], iter(norms)
        for i, push in enumerate(pushes):
            if i in records:
                out.append(records[i])
                continue
            out.append(
                ApplyRecord(
                    learner=push.learner,
                    pulled_version=push.pulled_version,
                    version=self.version,
                    tau=before - push.pulled_version,
                    nbytes=push.payload.nbytes,
                    applied=lr is not None,
                    grad_norm=next(norm_iter),
                    lr=float("nan") if lr is None else lr,
                )
            )
        return out

    # -- bookkeeping -------------------------------------------------------------------------
    @property
    def rejected_total(self) -> int:
        return sum(sum(c.values()) for c in self.rejected.values())

    def memory_bytes(self) -> int:
        """Bytes of server state beyond the parameters themselves (rule and remedy state)."""
        return self.rule.memory_bytes(self.rule_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "params": self.params.clone(),
            "version": self.version,
            "rule_state": self.rule_state,
            "rejected": {k: dict(v) for k, v in self.rejected.items()},
            "dropped": self.dropped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.params.copy_(state["params"])
        self.version = int(state["version"])
        self.rule_state = state["rule_state"]
        self.rejected = {int(k): Counter(v) for k, v in state["rejected"].items()}
        self.dropped = int(state["dropped"])
