"""The parameter server as each learner process runs it: the pure core over shared memory.

**Server mode.** Shard s is an ordinary :class:`~asyncsgd.core.server.ParameterServer` (built by
``Job.server``, so the rule, codec and validation are the simulator's) whose parameter slice and
rule-state tensors are views of the arena; only its version counter is copied in and out of the
arena, under the shard's robust mutex. A learner pulls shard by shard (lock, ``pull``, copy,
unlock) and pushes shard by shard (lock, ``apply``, unlock), so two learners can work on different
shards at once, and τ_s = v_s − v_s^pulled is exact for every shard. Applying in the learner's own
process means a push is never copied or serialised: the payload the codec produced is what the
server decodes.

**Hogwild mode** (Recht et al. 2011): no locks at all. Learners copy the parameters while others
write them and add their updates in place concurrently. Each learner counts its own applied
updates in a cell no one else writes, so the total is a lock-free sum, and the staleness of a push
is the number of updates that landed between the start of its pull and the start of its apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.core.server import ParameterServer
from asyncsgd.core.shards import SliceCodec
from asyncsgd.engines.local.changed_pulls import PulledCopy
from asyncsgd.engines.local.flight import APPLIED, INSIDE, SETTLED, STARTED, Flight, settle
from asyncsgd.engines.local.shared import PUBLISHED, SAMPLES, UPDATES, Shared, replace_leaves
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import ApplyRecord, Push, Rejection

Finish = Callable[[list[ApplyRecord], list[str], float, float], None]
"""Called once per admitted push, with the shard records, their rejection codes, and the seconds
spent waiting for locks and applying; in server mode it runs under the last shard's lock."""

now = time.perf_counter


def build_shards(shared: Shared, job: Job, layout: FlatLayout) -> list[ParameterServer]:
    """One core server per shard, over the shared slices and the shared rule state."""
    plan = shared.plan
    if plan.shards == 1:
        server = job.server(shared.params, layout, copy=False)
        servers = [server]
    else:
        full = job.codec(layout)
        servers = []
        for s, (start, stop) in enumerate(plan):
            server = job.server(shared.shard_params(s), FlatLayout.single(stop - start), copy=False)
            server.codec = SliceCodec(full, start, stop)
            servers.append(server)
    for s, server in enumerate(servers):
        server.rule_state = replace_leaves(
            server.rule_state, lambda path, _t, s=s: shared.rule_tensor(s, path)
        )
    return servers


class SharedServer:
    """Server mode: S core servers over shared slices, each behind its robust mutex."""

    def __init__(self, shared: Shared, job: Job, layout: FlatLayout, learner: int, timeout: float,
                 flight: Flight | None = None) -> None:  # fmt: skip
        self.shared = shared
        self.learner = learner
        self.timeout = timeout
        self.flight = flight or Flight(shared, learner, 1)
        self.servers = build_shards(shared, job, layout)
        self.bounds = list(shared.plan)
        self.budget = job.budget
        self.inherited: list[int] = []
        """Shards whose lock this learner took over from a learner that died holding it."""
        self.ticket = 0
        """With several shards: the update number reserved by the push being applied."""
        self.copy = PulledCopy(len(self.servers), shared.changes)

    def _lock(self, s: int) -> None:
        if self.shared.mutexes[s].acquire(self.timeout):
            settle(self.shared, s, self.learner)
            self.inherited.append(s)
        self.flight.held[s] = 1

    def _unlock(self, s: int) -> None:
        self.flight.held[s] = 0
        self.shared.mutexes[s].release()

    def pull_into(self, out: torch.Tensor) -> tuple[list[int], float, float]:
        """Copy every shard into ``out``: (versions pulled, seconds waiting for locks, copying).

        ``out`` must not be written between pulls: when it is the buffer of the last pull, only the
        coordinates changed since are copied (see :mod:`.changed_pulls`). When a shard must be copied
        whole but its log can repair a copy, the copy is made without the lock, and the
        coordinates of the updates that landed meanwhile are copied again under it."""
        versions, wait, copy = [], 0.0, 0.0
        buffer = out.data_ptr()
        for s, server in enumerate(self.servers):
            start, stop = self.bounds[s]
            dst = out[start:stop]
            t0 = now()
            self._lock(s)
            t1 = now()
            held = True
            try:
                version = int(self.shared.versions[s])
                stamp = self.copy.stamp(s, version, buffer)
                if stamp is not None:  # copied whole, unlocked: no one waits for it
                    self._unlock(s)
                    held = False
                    dst.copy_(server.params)
                    self.copy.hold(s, stamp, buffer)
                    t2 = now()
                    self._lock(s)
                    held = True
                    t1 += now() - t2  # the second wait for the lock, counted as waiting
                server.adopt_version(int(self.shared.versions[s]))
                params, version = server.pull(self.learner)
                write = self.copy.read(s, dst, params, version, buffer)
            finally:
                if held:
                    self._unlock(s)
            if write is not None:
                write()
                if stamp is None:
                    self.shared.change_pulls[self.learner] += 1
            wait += t1 - t0
            copy += now() - t1
            versions.append(version)
        return versions, wait, copy

    def push(self, push: Push, pulled: list[int], samples: int, finish: Finish) -> bool:
        """Apply ``push`` shard by shard; False (nothing applied) once the run is over.

        Every step is noted in this learner's flight record first (see :mod:`.flight`), so that a
        death anywhere leaves the counters to be settled and the update accounted for."""
        shared, shards, flight = self.shared, len(self.servers), self.flight
        reason: Rejection | None = None
        if shards > 1:  # all or nothing: a push is rejected by every shard or by none
            reason = self.servers[0].validate(push) or ParameterServer.non_finite(push)
        records: list[ApplyRecord] = []
        codes: list[str] = []
        wait = apply = 0.0
        flight.begin()
        states = flight.states
        for s, server in enumerate(self.servers):
            t0 = now()
            self._lock(s)
            t1 = now()
            wait += t1 - t0
            try:
                version = int(shared.versions[s])
                if s == 0:
                    totals = shared.totals
                    if shared.stopping or self.budget.reached(int(totals[UPDATES]), int(totals[SAMPLES])):
                        return False
                    # with shards, the update number is reserved now: the budget is exact across shards
                    ticket = int(totals[UPDATES]) + 1 if shards > 1 and reason is None else 0
                    flight.admit(int(totals[SAMPLES]), version, samples, ticket)
                    totals[SAMPLES] += samples
                    if ticket:
                        totals[UPDATES] = ticket
                        self.ticket = ticket
                else:
                    flight.enter(s, version)
                server.adopt_version(version)
                if reason is not None:
                    states[s] = SETTLED
                    records.append(self._rejected(push, pulled[s], version, reason))
                    codes.append(reason.code)
                else:
                    sub = push if shards == 1 else Push(push.learner, pulled[s], push.payload, push.loss)
                    states[s] = STARTED
                    record = server.apply(sub)
                    states[s] = APPLIED if record.applied else SETTLED
                    shared.versions[s] = server.version
                    if shards == 1:
                        shared.totals[UPDATES] = server.version
                    if record.applied and shared.changes:
                        shared.changes[s].record(server.version, record.support)
                    records.append(record)
                    codes.append("" if record.accepted else record.code)
                flight.row[INSIDE] = 0
                apply += now() - t1
                if s == shards - 1:
                    finish(records, codes, wait, apply)
            finally:
                self._unlock(s)
        return True

    @staticmethod
    def _rejected(push: Push, pulled: int, version: int, reason: Rejection) -> ApplyRecord:
        return ApplyRecord(
            learner=push.learner, pulled_version=pulled, version=version,
            tau=max(version - pulled, 0), nbytes=push.payload.nbytes, accepted=False,
            applied=False, reason=reason.message,
        )  # fmt: skip

    def next_sequence(self) -> int:
        """Sequence number of the row being published (call under the last shard's lock)."""
        return int(self.shared.totals[PUBLISHED]) + 1

    def published(self, seq: int) -> None:
        self.shared.totals[PUBLISHED] = seq

    def snapshot(self, out: torch.Tensor) -> int:
        """Copy a consistent cut of all shards into ``out`` (every lock, in order); the update count."""
        for s in range(len(self.servers)):
            self._lock(s)
        try:
            out.copy_(self.shared.params)
            return int(self.shared.totals[UPDATES])
        finally:
            for s in reversed(range(len(self.servers))):
                self._unlock(s)


class HogwildServer:
    """Hogwild mode: one core server over the shared vector, no locks anywhere."""

    def __init__(self, shared: Shared, job: Job, layout: FlatLayout, learner: int, timeout: float,
                 flight: Flight | None = None) -> None:  # fmt: skip
        self.shared = shared
        self.learner = learner
        self.flight = flight or Flight(shared, learner, 1)
        (self.server,) = build_shards(shared, job, layout)
        self.budget = job.budget
        self.inherited: list[int] = []
        self._seq = 0

    def _landed(self) -> int:
        return int(self.shared.hog.sum())

    def pull_into(self, out: torch.Tensor) -> tuple[list[int], float, float]:
        t0 = now()
        version = self._landed()
        out.copy_(self.shared.params)
        return [version], 0.0, now() - t0

    def push(self, push: Push, pulled: list[int], samples: int, finish: Finish) -> bool:
        shared, flight, i = self.shared, self.flight, self.learner
        t0 = now()
        landed = self._landed()
        if shared.stopping or self.budget.reached(landed, int(shared.hog_samples.sum())):
            return False
        flight.begin()
        # this learner's own counters stand in for the run's: a settle restores them from here
        flight.admit(int(shared.hog_samples[i]), int(shared.hog[i]), samples, 0)
        shared.hog_samples[i] += samples
        self.server.adopt_version(landed)
        flight.states[0] = STARTED
        record = self.server.apply(Push(push.learner, pulled[0], push.payload, push.loss))
        flight.states[0] = APPLIED if record.applied else SETTLED
        if record.applied:
            shared.hog[i] += 1
        flight.row[INSIDE] = 0
        code = "" if record.accepted else record.code
        finish([record], [code], 0.0, now() - t0)
        return True

    def next_sequence(self) -> int:
        self._seq += 1
        return self._seq

    def published(self, seq: int) -> None:
        pass

    def snapshot(self, out: torch.Tensor) -> int:
        out.copy_(self.shared.params)
        return self._landed()
