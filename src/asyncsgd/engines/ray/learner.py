"""A learner as a Ray actor: the core learner cycle against the shard actors, timed phase by phase.

Each cycle is the generic one every engine drives::

    pre_steps × local_step(batch) → pull (receive) → post_steps × local_step(batch) → push

A learner calls the shard actors itself (the driver only collects records): one ``exchange`` per
shard, issued together, applies its push and brings back the fresh parameters, so a Downpour
cycle costs one remote call per shard. Learners with local steps before the pull (EASGD) pull
separately after those steps, as the cycle demands.

Its wall time is cut into contiguous phases, so their sum is the time it ran: ``wait`` (paused
for a checkpoint), ``compute`` (local steps, batch gathering included), ``pull`` (installing the
parameters the last reply brought, a separate pull's round trip, bookkeeping), ``compress``
(the learner's ``push()``: encoding, error feedback), ``push`` (whole-push validation with several
shards, sending, queueing behind other learners at the shard, and the reply's transfer back) and
``apply`` (the shard's core ``apply``, on the critical path). A push's ``push`` phase is known only
when its reply has come back, so it travels with the learner's next call (or in the result of
:meth:`LearnerActor.run`), and the driver completes the record with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from asyncsgd.assembly.checks import check_device
from asyncsgd.assembly.job import Job
from asyncsgd.codecs.base import Codec
from asyncsgd.core.learner import Learner
from asyncsgd.core.server import ParameterServer
from asyncsgd.core.shards import cut, cuttable
from asyncsgd.engines.change_log import sparse_updates
from asyncsgd.engines.cycle import Cycle, Encoded, Pulled
from asyncsgd.engines.ray.cluster import import_ray
from asyncsgd.engines.ray.plain import plain, restore
from asyncsgd.engines.ray.protocol import END, PULL, PUSH, REFUSED, REJECTED, Call, Reply
from asyncsgd.engines.ray.wire import (
    INLINE_LIMIT,
    answer_chunks,
    chunked,
    from_buffer,
    receive_read_only,
    split,
    to_wire,
    unchunk,
    unpack_changes,
    wire_nbytes,
)
from asyncsgd.vocabulary.flat import FlatModel
from asyncsgd.vocabulary.messages import Push, Rejection

LearnerFactory = Callable[[Job, int, FlatModel], Learner]
now = time.perf_counter


def whole_push_rejection(push: Push, codec: Codec, learners: int) -> Rejection | None:
    """Why no shard may apply ``push`` (the core server's checks, over the whole payload)."""
    if not 0 <= push.learner < learners:
        return Rejection("unknown_learner", f"unknown learner id {push.learner} (have {learners})")
    return codec.check(push.payload) or ParameterServer.non_finite(push)


class ShardClient:
    """A learner's side of the sharded server: one exchange per shard, all issued at once."""

    def __init__(
        self, shards: list[Any], bounds: list[tuple[int, int]], codec: Codec, learners: int, timeout: float,
        changes: bool,
    ) -> None:  # fmt: skip
        self.shards = shards
        self.bounds = bounds
        self.codec = codec
        self.learners = learners
        self.timeout = timeout
        self.cut = len(shards) > 1 and cuttable(codec)
        """Each shard is sent only its part of a push (else the whole push)."""
        self.ray = import_ray()
        self.changes = changes
        self.narrow = [True] * len(shards)
        """Per shard, from its last answer: whether its next one may carry changes only."""
        self.methods: list[dict[int, Any]] = [{} for _ in shards]
        self.reserved = False
        """Shard 0 reserved a slot in the budget for this learner's next push."""

    def _get(self, refs: Any) -> Any:
        return self.ray.get(refs, timeout=self.timeout)

    def chunks(self) -> list[int]:
        """Per shard: the objects beyond the reply its next answer is to come in (``Call.chunks``)."""
        return [
            answer_chunks(b - a, self.changes and narrow)
            for (a, b), narrow in zip(self.bounds, self.narrow, strict=True)
        ]

    def _method(self, s: int, chunks: int) -> Any:
        """Shard ``s``'s ``exchange``, answering with ``chunks`` objects beyond the reply."""
        method = self.methods[s].get(chunks)
        if method is None:
            exchange = self.shards[s].exchange
            method = exchange.options(num_returns=1 + chunks) if chunks else exchange
            self.methods[s][chunks] = method
        return method

    def pull(self, call: Call, held: list[int]) -> list[Reply]:
        """Every shard's parameters; ``held``: the version of each the learner's copy holds."""
        calls = [replace(call, have=h, chunks=k) for h, k in zip(held, self.chunks(), strict=True)]
        replies = self._send(range(len(calls)), calls, [None] * len(calls))
        self.reserved = replies[0].reserved
        return replies

    def _send(self, shards: range, calls: list[Call], parts: list[Any]) -> list[Reply]:
        """Call ``exchange`` on ``shards`` at once, each payload part inline in chunks when it is
        of a size for that; every answer as one :class:`Reply`."""
        refs = []
        for s in shards:
            k = calls[s].chunks
            part, inline = parts[s], ()
            if isinstance(part, tuple) and chunked(wire_nbytes(part)):
                part, inline = split(part)
            ref = self._method(s, k).remote(calls[s], part, *inline)
            refs.append(ref if k else [ref])
        flat = self._get([ref for group in refs for ref in group])
        replies, i = [], 0
        for group in refs:
            reply, got = flat[i], [part for part in flat[i + 1 : i + len(group)] if part is not None]
            i += len(group)
            if got:  # chunks, or one whole slice through the object store
                params = unchunk(got, np.float32) if isinstance(got[0], bytes) else got[0]
                if reply.count >= 0:
                    values, changed = unpack_changes(params, reply.count)
                    reply = reply._replace(params=values, changed=changed, count=-1)
                else:
                    reply = reply._replace(params=params)
            replies.append(reply)
        for s, reply in zip(shards, replies, strict=True):
            self.narrow[s] = reply.narrow
        return replies

    def push(self, push: Push, pulled: list[int], held: list[int], call: Call) -> tuple[list[Reply], float]:
        """Send ``push`` (computed at versions ``pulled``) to every shard; (replies, seconds of
        ``apply`` on the critical path). ``held``: the versions the learner's copy holds.

        A refused push (``replies[0].status == REFUSED``) was applied by no shard."""
        shards = len(self.shards)
        calls = [
            replace(call, pulled=v, have=h, reserved=self.reserved, chunks=k)
            for v, h, k in zip(pulled, held, self.chunks(), strict=True)
        ]
        if shards == 1:
            (reply,) = self._send(range(1), calls, [to_wire(push.payload)])
            return [reply], reply.apply
        rejection = whole_push_rejection(push, self.codec, self.learners)
        if rejection is not None:  # refused by all: shard 0 records it, the others only answer the pull
            first = replace(calls[0], kind=REJECTED, code=rejection.code, reason=rejection.message)
            calls = [first, *(replace(c, kind=PULL) for c in calls[1:])]
            replies = self._send(range(shards if call.want else 1), calls, [None] * shards)
            self.reserved = replies[0].reserved
            return replies, replies[0].apply
        if self.cut:
            parts: list[Any] = [to_wire(cut(self.codec, push.payload, a, b)) for a, b in self.bounds]
        else:
            wire = to_wire(push.payload)
            large = wire_nbytes(wire) > INLINE_LIMIT  # too large for chunks: put once, read by every shard
            parts = [self.ray.put(wire) if large else wire] * shards
        if self.reserved:
            replies = self._send(range(shards), calls, parts)
            apply = max(r.apply for r in replies)
        else:  # no reservation: shard 0 admits first, only then may the others apply
            (first,) = self._send(range(1), calls, parts)
            if first.status == REFUSED:
                return [first], 0.0
            rest = self._send(range(1, shards), calls, parts)
            replies = [first, *rest]
            apply = first.apply + max(r.apply for r in rest)
        self.reserved = replies[0].reserved
        return replies, apply


class LearnerActor:
    def setup(
        self, job: Job, learner: int, incarnation: int, shards: list[Any], bounds: list[tuple[int, int]],
        state: dict[str, Any] | None, factory: LearnerFactory | None,
    ) -> dict[str, Any]:  # fmt: skip
        """Build the learner (a one-line ConfigError if ``device`` does not exist here)."""
        cfg = job.config
        torch.set_num_threads(cfg.learner_threads)
        receive_read_only()
        check_device(cfg.device)
        self.job, self.i, self.incarnation = job, learner, incarnation
        self.flat = job.flat_model()
        self.learner = factory(job, learner, self.flat) if factory else job.learner(learner, self.flat)
        self.cycle = Cycle(self.learner, self.batch)
        self.streams = job.streams()
        if state is not None:  # plain data (a checkpoint's): in the types a fresh learner has
            self.learner.load_state_dict(restore(self.learner.state_dict(), state["learner"]))
            self.streams.load_state(restore(self.streams.state(), state["streams"]))
        self.params = self.flat.params.numpy()
        self.pulled = self.flat.params
        self.bounds = bounds
        self.versions = [-1] * len(shards)
        """Per shard: the version last pulled (−1: none yet)."""
        codec = job.codec(self.flat.layout)
        sparse = sparse_updates(codec, job.rule())
        self.client = ShardClient(shards, bounds, codec, cfg.learners, cfg.timeout, sparse)
        self.copy = np.zeros(self.flat.size, np.float32) if sparse else None
        """With ``parts``, the shards' parameters as last pulled, kept by this learner when updates
        are sparse, so that answers may carry only the coordinates changed since (its model may
        move off them)."""
        self.copy_tensor = torch.from_numpy(self.copy) if self.copy is not None else None
        """``copy`` as a tensor (the same memory): the pulled point when it holds every slice."""
        self.parts: list[np.ndarray | None] = [None] * len(shards)
        """Per shard, with ``copy``: the whole slice last pulled, read in place (a view of the
        answer) instead of copied; ``None``: ``copy`` holds that slice."""
        self.down = 0
        """Bytes the last pull brought."""
        self.change_pulls = 0
        self.samples = cfg.batch_size * (self.learner.pre_steps + self.learner.post_steps)
        self.n = 0
        self.ended_at: float | None = None
        ray = self.client.ray
        gpus = [str(g) for g in ray.get_gpu_ids()]
        node = ray.util.get_node_ip_address()
        return {
            "learner": learner,
            "incarnation": incarnation,
            "pid": os.getpid(),
            "node": node,
            "node_id": ray.get_runtime_context().get_node_id(),
            "gpus": gpus,
        }

    # -- pieces of the cycle ------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.job.batch(self.streams.next(self.i))

    def pull(self) -> bool:
        """Pull every shard into this learner's parameters; False when the run refuses."""
        replies = self.client.pull(Call(PULL, self.i, self.incarnation, 0, samples=self.samples), self.held())
        if replies[0].status == REFUSED:
            return False
        self.install(replies)
        return True

    def install(self, replies: list[Reply]) -> None:
        """Make the replies' parameters the pulled point, with one copy into the model at most.

        One shard's whole answer is read in place: the reply's buffer (learners only read what
        they pulled; the model copies it in for its passes, as it would any point). Without
        changes, S shards' slices are written into the model's buffer, which the model then reads
        in place. When updates are sparse the learner also keeps the pulled point, for answers
        with only the changed coordinates: a whole slice as the answer's view, a changed one in
        its ``copy`` (which first takes the view it replaces); when every slice is in the copy, the
        copy is read in place, else the slices are written into the model's buffer.
        """
        self.versions = [reply.version for reply in replies]
        self.down = sum(reply.nbytes for reply in replies)
        if len(replies) == 1 and replies[0].changed is None:
            self.parts[0] = replies[0].params
            self.pulled = from_buffer(replies[0].params)
            return
        for s, ((a, b), reply) in enumerate(zip(self.bounds, replies, strict=True)):
            if reply.changed is None:
                if self.copy is None:
                    np.copyto(self.params[a:b], reply.params)
                else:
                    self.parts[s] = reply.params
                continue
            assert self.copy is not None  # shards answer with changes only to a learner that keeps a copy
            kept, part = self.copy[a:b], self.parts[s]
            if part is not None:
                np.copyto(kept, part)
                self.parts[s] = None
            kept[reply.changed] = reply.params
            self.change_pulls += 1
        if self.copy is None:
            self.pulled = self.flat.params
        elif all(part is None for part in self.parts):
            self.pulled = self.copy_tensor
        else:
            for (a, b), part in zip(self.bounds, self.parts, strict=True):
                np.copyto(self.params[a:b], self.copy[a:b] if part is None else part)
            self.pulled = self.flat.params

    def held(self) -> list[int]:
        """Per shard: the version the learner holds for answers with changes only (−1: none)."""
        return self.versions if self.copy is not None else [-1] * len(self.versions)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of this learner, as plain data (:mod:`.plain`)."""
        return {"learner": plain(self.learner.state_dict()), "streams": plain(self.streams.state())}

    def _end(self, previous: tuple[float, float] | None) -> dict[str, Any]:
        self.ended_at = now()
        patch = (self.n, *previous) if previous is not None else None
        return {
            "pushes": self.n,
            "patch": patch,
            "state": self.state_dict(),
            "change_pulls": self.change_pulls,
        }

    # -- the cycle ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Cycle until shard 0 ends or refuses; the last push's phases and this learner's state."""
        learner = self.learner
        start = now()
        wait = start - self.ended_at if self.ended_at is not None else 0.0
        previous: tuple[float, float] | None = None
        fused = learner.pre_steps == 0
        if fused and not self.pull():
            return self._end(None)
        mark = start

        def pull() -> Pulled | None:
            if not fused and not self.pull():
                return None
            return Pulled(self.pulled, self.versions[0])

        def push(encoded: Encoded) -> tuple[list[Reply], float, float]:
            call = Call(
                PUSH, self.i, self.incarnation, self.n + 1, push_learner=encoded.push.learner,
                nbytes=encoded.push.payload.nbytes, samples=self.samples, loss=encoded.loss,
                pull=(encoded.start - mark) + encoded.pull, compute=encoded.compute,
                compress=encoded.compress, wait=wait, previous=previous, want=fused, down=self.down,
            )  # fmt: skip
            replies, apply = self.client.push(encoded.push, self.versions, self.held(), call)
            return replies, apply, encoded.end

        while True:
            sent = self.cycle.run(pull, push)
            if sent is None:
                return self._end(previous)
            replies, apply, encoded = sent
            pushed = now()
            status = replies[0].status
            if status == REFUSED:
                return self._end(previous)
            self.n += 1
            previous, wait = (pushed - encoded - apply, apply), 0.0
            if status == END:
                return self._end(previous)
            if fused:
                self.install(replies)
            mark = pushed
