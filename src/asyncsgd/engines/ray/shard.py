"""A parameter-server shard as a Ray actor: the core server over one slice of the parameters.

Shard s holds an ordinary :class:`~asyncsgd.core.server.ParameterServer` (built by ``Job.server``,
so rule, codec, validation and τ are the simulator's) over ``[start, stop)`` of the flat vector,
with its own version counter and rule state. A Ray actor runs one call at a time, so the actor is
the shard's lock: every ``exchange`` (apply this push, answer with the fresh slice and version)
is atomic, and τ_s = v_s − v_s^pulled is exact.

Besides the math a shard keeps:

* a log of one :class:`~asyncsgd.engines.ray.protocol.ShardRow` per handled push, which the driver
  drains in batches (records never wait for the driver);
* snapshots of its slice at the versions due for evaluation (multiples of ``eval_every``), so the
  driver evaluates exactly the parameters of that version; when it falls behind, snapshots are
  skipped and it evaluates the parameters it finds instead;
* on shard 0, the :class:`~asyncsgd.engines.ray.admission.Admission` of every push;
* a :class:`~asyncsgd.engines.change_log.ChangeLog` of the coordinates its last updates changed,
  when updates are sparse, so that it answers a learner with only those when they are few.

Every answer that carries parameters is a pull for the core server (``ParameterServer.pull``), so
rules that watch pulls (DC-ASGD keeps each learner's pulled point) see them as in the simulator.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.core.server import ParameterServer
from asyncsgd.core.shards import part_codec
from asyncsgd.engines.change_log import ChangeLog, sparse_updates
from asyncsgd.engines.ray.admission import Admission
from asyncsgd.engines.ray.cluster import import_ray
from asyncsgd.engines.ray.plain import plain, restore
from asyncsgd.engines.ray.protocol import OK, PULL, REFUSED, REJECTED, Call, Reply, ShardRow
from asyncsgd.engines.ray.wire import (
    CHUNK_BYTES,
    INLINE_LIMIT,
    Head,
    Wire,
    chunked,
    chunks,
    from_wire,
    join,
    pack_changes,
    receive_read_only,
)
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import ApplyRecord, Push

SNAPSHOT_BYTES = 64 * 2**20  # memory for evaluation snapshots: 8 of them, fewer for big slices
CHANGE_SLOTS = 8
MAX_CHANGES = INLINE_LIMIT // 8
"""Most changes an answer carries: 512 KiB of indices and values, the most that travels inside
the reply's message, in chunks (``asyncsgd.engines.ray.wire``), instead of through the object
store (``python -m benchmarks.ray_transport``). Larger answers go whole: read in place by a
learner, a whole answer costs it nothing, while changes cost a gather in the shard and a scatter
in the learner and, beyond the message, would still pay the object store
(``python -m benchmarks.ray_engine`` with a limit of 1/32 of the slice sent through the store,
10^6 parameters, two learners, top-1% pushes: 178 and 258 updates/s in two runs, against 264 and
373 for the plain Ray actor)."""
now = time.perf_counter


def change_width(size: int) -> int:
    """Changes a shard of ``size`` parameters answers with, at most, before a whole slice: what
    fits inside the reply's message in chunks, and never more than 1/8 of the slice (8 bytes a
    change, repeats possible, against 4 a coordinate)."""
    return min(size // 8, MAX_CHANGES)


def snapshot_slots(size: int) -> int:
    return int(min(8, max(2, SNAPSHOT_BYTES // (4 * max(size, 1)))))


def change_log(server: ParameterServer, size: int) -> ChangeLog | None:
    """The log of a shard of ``size`` parameters, or ``None`` when every answer is a whole slice."""
    width = change_width(size)
    if width == 0 or not sparse_updates(server.codec, server.rule):
        return None
    return ChangeLog.private(CHANGE_SLOTS, width)


def shard_server(job: Job, params: torch.Tensor, start: int, stop: int, whole: FlatLayout) -> ParameterServer:
    """The core server of slice ``[start, stop)`` of a vector laid out as ``whole``: the job's own
    for the whole vector, else one whose codec decodes what a shard is sent (``part_codec``)."""
    if (start, stop) == (0, whole.size):
        return job.server(params, whole, copy=False)
    server = job.server(params, FlatLayout.single(stop - start), copy=False)
    server.codec = part_codec(job.codec(whole), start, stop)
    return server


class ShardActor:
    def setup(
        self, job: Job, shard: int, start: int, stop: int, initial: np.ndarray, state: dict[str, Any] | None,
        checkpoint_every: int = 0,
    ) -> dict[str, Any]:  # fmt: skip
        torch.set_num_threads(max(1, int(job.config.ray_cpus_per_shard)))
        receive_read_only()
        self.shard = shard
        self.params = torch.from_numpy(np.array(initial, dtype=np.float32, copy=True))
        self.server = shard_server(job, self.params, start, stop, job.layout())
        self.changes = change_log(self.server, stop - start)
        self.admission = (
            Admission(job.config.shards, job.max_updates, job.max_samples, checkpoint_every=checkpoint_every)
            if shard == 0
            else None
        )
        self.eval_every = max(1, job.eval_every)
        self.slots = snapshot_slots(stop - start)
        self.snapshots: dict[int, np.ndarray] = {}
        self.log: list[ShardRow] = []
        self.origin = time.time()
        if state is not None:
            self.server.adopt_version(int(state["version"]))
            self.server.rule_state = restore(self.server.rule_state, state["rule_state"])
            self.server.dropped = int(state["dropped"])
            if self.admission is not None:
                self.admission.load_state_dict(state["admission"])
        return {
            "pid": os.getpid(),
            "node": _node(),
            "node_id": _node_id(),
            "memory_bytes": self.server.memory_bytes(),
        }

    # -- the fused push and pull -------------------------------------------------------------
    def exchange(self, call: Call, payload: Wire | Head | None, *parts: np.ndarray) -> Any:
        """Apply the push, if any (its arrays as inline ``parts`` when there are any), and answer:
        a :class:`Reply`, followed, when the call asks for ``call.chunks`` more objects, by the
        answer's parameters (see ``Call.chunks``)."""
        reply = self._exchange(call, join(payload, parts) if parts else payload)
        k = call.chunks
        if not k:
            return reply
        params = reply.params
        if params is None or (reply.changed is not None and reply.nbytes <= CHUNK_BYTES):
            return (reply, *[None] * k)  # nothing to send, or changes that fit in the reply itself
        if reply.changed is not None:
            header = reply._replace(params=None, changed=None, count=len(params))
            params = pack_changes(params, reply.changed)
        else:
            header = reply._replace(params=None)
        out = chunks(params) if chunked(params.nbytes) else [params]  # else: through the store
        return (header, *out, *[None] * (k - len(out)))

    def _exchange(self, call: Call, payload: Wire | None) -> Reply:
        server, admission = self.server, self.admission
        if call.kind == PULL:
            status, reserved = admission.pull(call.learner, call.samples) if admission else (0, False)
            return self._reply(status, 0.0, reserved, call)
        ticket = 0
        if admission is not None:
            got = admission.admit(call.learner, call.kind, call.samples, call.reserved)
            if got is None:
                return Reply(REFUSED, server.version, 0.0, False, None)
            ticket = got
        t0 = now()
        if call.kind == REJECTED:
            record = ApplyRecord(
                learner=call.push_learner, pulled_version=call.pulled, version=server.version,
                tau=max(server.version - call.pulled, 0), nbytes=call.nbytes, accepted=False,
                applied=False, reason=call.reason,
            )  # fmt: skip
            code = call.code
        else:
            assert payload is not None
            push = Push(call.push_learner, call.pulled, from_wire(payload), call.loss)
            record = server.apply(push)
            code = "" if record.accepted else record.code
        if record.applied and self.changes is not None:
            self.changes.record(server.version, record.support)
        apply = now() - t0
        if record.applied and server.version % self.eval_every == 0 and len(self.snapshots) < self.slots:
            self.snapshots[server.version] = self.params.numpy().copy()
        status, reserved, version = 0, False, server.version
        if admission is not None:
            if record.applied and admission.shards == 1:
                admission.applied()
            status, reserved = admission.after(call.learner, call.samples)
            if admission.shards > 1:  # the update number (shards' own versions may differ: drops)
                version = ticket or admission.updates
        self.log.append(
            ShardRow(
                seq=admission.seq if admission is not None else 0, kind=call.kind, learner=call.learner,
                incarnation=call.incarnation, n=call.n, pulled=call.pulled, version=version,
                tau=record.tau, accepted=record.accepted, applied=record.applied, nbytes=call.nbytes,
                samples=call.samples, loss=call.loss, grad_norm=record.grad_norm, lr=record.lr,
                end=time.time() - self.origin, pull=call.pull, compute=call.compute,
                compress=call.compress, wait=call.wait, apply=apply, previous=call.previous,
                down=call.down, code=code, reason=record.reason,
            )
        )  # fmt: skip
        return self._reply(status, apply, reserved, call)

    def _reply(self, status: int, apply: float, reserved: bool, call: Call) -> Reply:
        """The answer: with the parameters (the learner's pull) when it wants them and goes on;
        only the changed ones when the log knows them since the version the learner holds."""
        server = self.server
        narrow = self.changes is not None and self.changes.narrow(server.version)
        if not (call.want and status == OK):
            return Reply(status, server.version, apply, reserved, None, narrow=narrow)
        params, _ = server.pull(call.learner)
        changed = None
        if self.changes is not None and call.have >= 0:
            changed = self.changes.changed(call.have, server.version)
        if changed is None:
            return Reply(status, server.version, apply, reserved, params.numpy(), narrow=narrow)
        at = changed.numpy()
        return Reply(status, server.version, apply, reserved, params.numpy()[at], at, narrow=narrow)

    # -- the driver's calls --------------------------------------------------------------------
    def go(self, origin: float) -> None:
        """Engine time 0, as this machine's wall clock reads it (``time.time()``)."""
        self.origin = origin

    def drain(self, discard_below: int) -> tuple[list[ShardRow], dict[str, Any] | None]:
        """Every row logged since the last drain, and on shard 0 the admission's status; drops
        snapshots older than ``discard_below``."""
        rows, self.log = self.log, []
        for v in [v for v in self.snapshots if v < discard_below]:
            del self.snapshots[v]
        return rows, self.admission.status() if self.admission is not None else None

    def snapshot(self, version: int) -> tuple[bool, np.ndarray]:
        """The slice at ``version`` (True) if kept, else the current slice (False)."""
        kept = self.snapshots.pop(version, None)
        return (True, kept) if kept is not None else (False, self.params.numpy())

    def control(self, what: str, learner: int = -1) -> bool:
        """Shard 0: ``stop``, ``pause``, ``resume``, or ``release`` a gone learner's reservation."""
        admission = self.admission
        assert admission is not None
        if what == "stop":
            admission.stopped = True
        elif what == "pause":
            admission.pausing = True
        elif what == "resume":
            admission.resume()
        else:
            return admission.release(learner)
        return True

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of this shard (call while no learner runs)."""
        server = self.server
        state = {
            "params": self.params.clone(),
            "version": server.version,
            "rule_state": plain(server.rule_state),
            "dropped": server.dropped,
        }
        if self.admission is not None:
            state["admission"] = self.admission.state_dict()
        return state

    def final(self) -> dict[str, Any]:
        updates = self.admission.updates if self.admission is not None else self.server.version
        return {"params": self.params.numpy(), "version": self.server.version, "updates": updates,
                "memory_bytes": self.server.memory_bytes(), "dropped": self.server.dropped}  # fmt: skip


def _node() -> str:
    return import_ray().util.get_node_ip_address()


def _node_id() -> str:
    """The Ray node's id: nodes of one machine share an address, never an id."""
    return str(import_ray().get_runtime_context().get_node_id())
