"""A learner process: the core learner cycle against the shared server, timed phase by phase.

Each cycle is the generic one every engine drives::

    pre_steps × local_step(batch) → pull (receive) → post_steps × local_step(batch) → push

and its wall time is cut into contiguous phases, so their sum is the cycle's length exactly:
``wait`` (a checkpoint pause, lock waits), ``compute`` (local steps, batch gathering included),
``pull`` (bookkeeping since the previous push, the server's ``pull`` and the copy), ``compress``
(the learner's ``push()``: encoding, error feedback), ``push`` (handing the payload to the shards:
splitting, whole-push validation, the record), ``apply`` (the core server's ``apply``).

The process ignores SIGINT (the supervisor owns Ctrl-C and tells learners to stop through the
arena), and exits on its own when any wait exceeds the run's timeout. It never outlives the
driver (the process that runs the supervisor): a learner is forked from the forkserver, so
``PR_SET_PDEATHSIG`` ties it to the forkserver's death only, and the forkserver itself lives on
while any learner holds the write end of its "alive" pipe, which every child is handed. So a
thread of each learner waits on the learner's end of its pipe to the driver, whose other end only
the driver holds: the kernel reports that end closed the moment the driver dies, however it died,
and the learner exits at once. With every learner gone, the forkserver and the resource tracker
see their pipes closed and exit too (the forkserver removing the driver's temporary directory on
its way out, see :mod:`.forkserver`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.core.learner import Learner
from asyncsgd.engines.cycle import Cycle, Encoded, Pulled
from asyncsgd.engines.local.arena import Arena
from asyncsgd.engines.local.flight import Flight
from asyncsgd.engines.local.records import COL, FIELDS, RingWriter
from asyncsgd.engines.local.serving import HogwildServer, SharedServer
from asyncsgd.engines.local.shared import BATCHES, GO, MARK, ORIGIN_NS, PAUSE, RESUME, UPDATES, Shared, Spec
from asyncsgd.vocabulary.flat import FlatModel
from asyncsgd.vocabulary.messages import ApplyRecord

LearnerFactory = Callable[[Job, int, FlatModel], Learner]
now = time.perf_counter
_PR_SET_PDEATHSIG = 1
POLL = 0.0005


@dataclass
class Measured:
    """One cycle's measurements, in seconds (``encoded`` and ``end`` are clock readings)."""

    loss: float
    samples: int
    encoded: float
    wait: float
    compute: float
    pull: float
    compress: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class WorkerArgs:
    learner: int
    job: bytes
    """The pickled :class:`~asyncsgd.assembly.job.Job` (dataset included)."""
    spec: Spec
    address: tuple[int, int]
    hogwild: bool
    threads: int
    timeout: float
    eval_every: int
    time_offset: float = 0.0
    """Engine seconds already run before this run started (a resumed run)."""
    incarnation: int = 1
    state: dict[str, Any] | None = None
    """The learner's state to start from (a checkpoint), or None."""
    learner_factory: LearnerFactory | None = None


def die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def watch_driver(conn: Connection) -> None:
    """End this process the moment the driver has gone (see the module's docstring)."""
    fd = os.dup(conn.fileno())  # our own descriptor: the worker may close ``conn`` meanwhile

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # on a pipe's write end: POLLERR once no process holds the read end
        while not poller.poll():
            pass
        os._exit(1)

    threading.Thread(target=watch, name="asyncsgd-driver-watch", daemon=True).start()


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> float:
    start = now()
    while not cond():
        if now() - start > timeout:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(POLL)
    return now() - start


class Worker:
    def __init__(self, args: WorkerArgs, conn: Connection) -> None:
        self.args = args
        self.conn = conn
        self.i = args.learner
        job: Job = pickle.loads(args.job)
        self.job = job
        self.arena = Arena.attach(args.spec.layout(), *args.address)
        self.shared = Shared(args.spec, self.arena)
        self.flat = job.flat_model()
        factory = args.learner_factory
        self.learner = factory(job, self.i, self.flat) if factory else job.learner(self.i, self.flat)
        self.cycle = Cycle(self.learner, self.batch)
        self.streams = job.streams()
        self.produced = 0  # batches of the shared stream this replica has stepped through
        if args.state is not None:
            state = args.state
            self.learner.load_state_dict(state["learner"])
            self.streams.load_state(state["streams"])
            self.produced = int(state["produced"])
        self.flight = Flight(self.shared, self.i, args.incarnation)
        server_cls = HogwildServer if args.hogwild else SharedServer
        self.server = server_cls(self.shared, job, self.flat.layout, self.i, args.timeout, self.flight)
        self.ring = RingWriter(self.shared, self.i, args.timeout)
        self.row = [0.0] * (len(FIELDS) + args.spec.shards)
        self.batch_size = job.config.batch_size
        self.shared_stream = job.config.partition == "shared"
        # a checkpoint asked for before this learner started (a replacement) still wants its state
        self.epoch = int(self.shared.control[RESUME])
        self.down_bytes = 4 * self.flat.size
        self.eval_every = max(1, args.eval_every)
        self.origin = 0.0
        self.gate = job.ssp_gate()

    # -- data ---------------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.shared_stream:
            return self.job.batch(self.streams.next(self.i))
        mutex = self.shared.data_mutex
        mutex.acquire(self.args.timeout)
        try:  # a ticket in the one shared stream; this replica skips the batches others took
            ticket = int(self.shared.totals[BATCHES])
            self.shared.totals[BATCHES] = ticket + 1
        finally:
            mutex.release()
        while self.produced < ticket:
            self.streams.next(0)
            self.produced += 1
        self.produced += 1
        return self.job.batch(self.streams.next(0))

    # -- cycle boundaries ---------------------------------------------------------------------
    def updates(self) -> int:
        """The server's update count (Hogwild: the learners' applied updates)."""
        shared = self.shared
        return int(shared.hog.sum()) if self.args.hogwild else int(shared.totals[UPDATES])

    def boundary(self) -> float:
        """Between two cycles: hand this learner's state over when a checkpoint asks for it, and
        wait while a checkpoint is due but not taken yet (so no update lands past it unsaved) or
        while bounded staleness holds this learner back. Returns the seconds waited."""
        shared, timeout = self.shared, self.args.timeout
        start = since = now()
        while True:
            if int(shared.control[PAUSE]) > self.epoch:
                self.hand_over()
                since = now()
                continue
            if shared.stopping or self.terminated:
                break
            mark = int(shared.control[MARK])
            if not (mark and self.updates() >= mark) and (self.gate is None or self.may_start()):
                break
            if now() - since > timeout:
                raise TimeoutError(f"waited {timeout:g} s at a cycle boundary (checkpoint or ssp_bound)")
            time.sleep(POLL)
        return now() - start

    def hand_over(self) -> None:
        """Send this learner's state for the checkpoint asked for, and wait until it is taken."""
        shared = self.shared
        epoch = int(shared.control[PAUSE])
        state = {
            "learner": self.learner.state_dict(),
            "streams": self.streams.state(),
            "produced": self.produced,
        }
        self.conn.send_bytes(pickle.dumps((epoch, state), protocol=5))
        shared.acked[self.i] = epoch
        wait_until(
            lambda: int(shared.control[RESUME]) >= epoch or shared.stopping, self.args.timeout, "resume"
        )
        self.epoch = epoch

    def may_start(self) -> bool:
        """The SSP gate over the shared clocks; a learner that is gone holds no one back."""
        gate = self.gate
        assert gate is not None
        gate.clocks = [
            math.inf if g else float(c) for c, g in zip(self.shared.clock, self.shared.gone, strict=True)
        ]
        return gate.may_start(self.i)

    # -- the cycle ----------------------------------------------------------------------------
    def run(self, since: float | None = None) -> None:
        """Cycle until the run stops. ``since``: when this learner's time began (the run's start,
        for the first learners: the time they took to see the start signal is waiting)."""
        shared, learner, server = self.shared, self.learner, self.server
        samples = self.batch_size * (learner.pre_steps + learner.post_steps)
        mark = now()
        late = 0.0
        if since is not None and since < mark:
            mark, late = since, mark - since
        versions: list[int] = []

        def pull() -> Pulled:
            nonlocal versions
            versions, lock_wait, _ = server.pull_into(self.flat.params)
            return Pulled(self.flat.params, versions[0], lock_wait)

        def push(encoded: Encoded) -> Measured | None:
            measured = Measured(
                loss=encoded.loss,
                samples=samples,
                encoded=encoded.end,
                wait=paused + encoded.wait,
                compute=encoded.compute,
                pull=(encoded.start - mark - paused) + encoded.pull,
                compress=encoded.compress,
            )
            published = server.push(
                encoded.push, versions, samples, functools.partial(self.publish, measured)
            )
            return measured if published else None

        while not (shared.stopping or self.terminated):
            paused = self.boundary() + late
            late = 0.0
            measured = self.cycle.run(pull, push)
            if measured is None:
                break
            shared.clock[self.i] += 1  # only this process writes its cell
            mark = measured.end
            if self.deferred_snapshot:
                self.deferred_snapshot = 0
                self.snapshot_for_eval(self.last_version)

    deferred_snapshot = 0
    last_version = 0
    terminated = False

    def publish(
        self, cycle: Measured, records: list[ApplyRecord], codes: list[str], wait: float, apply: float
    ) -> None:
        """Write this push's row (under the last shard's lock in server mode)."""
        shared, server = self.shared, self.server
        shards = len(records)
        first = records[0]
        accepted = all(r.accepted for r in records)
        applied = accepted and any(r.applied for r in records)
        taus = [r.tau for r in records]
        if shards == 1:
            version, tau, pulled = first.version, first.tau, first.pulled_version
            grad_norm = first.grad_norm
        else:
            version = self.server.ticket if accepted else int(shared.totals[UPDATES])
            tau = max(taus)
            pulled = version - 1 - tau if accepted else first.pulled_version
            grad_norm = float(np.sqrt(sum(r.grad_norm**2 for r in records)))
        if applied and version % self.eval_every == 0:
            if shards == 1:  # exact: we hold the only lock, right after the apply
                self.snapshot_for_eval(version, locked=True)
            else:  # the next consistent cut, taken after this push releases its locks
                self.deferred_snapshot = 1
        self.last_version = version
        end = now()
        seq = server.next_sequence()
        row = self.row
        row[COL["seq"]] = seq
        row[COL["learner"]] = self.i
        row[COL["pulled_version"]] = pulled
        row[COL["version"]] = version
        row[COL["tau"]] = tau
        row[COL["accepted"]] = float(accepted)
        row[COL["applied"]] = float(applied)
        row[COL["nbytes"]] = first.nbytes
        row[COL["bytes_down"]] = self.down_bytes
        row[COL["samples"]] = cycle.samples
        row[COL["loss"]] = cycle.loss
        row[COL["grad_norm"]] = grad_norm
        row[COL["lr"]] = first.lr
        row[COL["end"]] = end - self.origin
        row[COL["wait"]] = cycle.wait + wait
        row[COL["compute"]] = cycle.compute
        row[COL["pull"]] = cycle.pull
        row[COL["compress"]] = cycle.compress
        row[COL["apply"]] = apply
        row[COL["push"]] = (end - cycle.encoded) - wait - apply
        row[len(FIELDS) :] = taus
        code = next((c for c in codes if c), "")
        reason = next((r.reason for r in records if not r.accepted), "")
        self.ring.write(row, code, reason)
        server.published(seq)
        cycle.end = end

    def snapshot_for_eval(self, version: int, locked: bool = False) -> None:
        """Copy the parameters at ``version`` into a free evaluation slot.

        Learners never wait for the evaluator: with every slot taken (it fell behind), the
        snapshot is skipped and the supervisor evaluates the parameters it finds instead.
        """
        shared = self.shared
        free = np.flatnonzero(shared.eval_version == 0)
        if free.size == 0:
            return
        slot = int(free[0])
        if locked:
            shared.eval_params[slot].copy_(shared.params)
        else:
            self.server.snapshot(shared.eval_params[slot])
        shared.eval_version[slot] = version


def main(args: WorkerArgs, conn: Connection) -> None:
    """Entry point of a learner process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    watch_driver(conn)
    torch.set_num_threads(args.threads)
    worker = Worker(args, conn)
    signal.signal(signal.SIGTERM, lambda *_: setattr(worker, "terminated", True))
    shared = worker.shared
    # the run's first learners are all ready before the driver says go; a respawned one comes later
    first = not shared.control[GO]
    shared.ready[args.learner] = args.incarnation
    wait_until(lambda: bool(shared.control[GO]) or shared.stopping, args.timeout, "the start signal")
    # engine time 0 in this process's clock (CLOCK_MONOTONIC is one clock for every process)
    start = int(shared.control[ORIGIN_NS]) / 1e9
    worker.origin = start - args.time_offset
    worker.run(start if first else None)
    shared.done[args.learner] = args.incarnation
    conn.close()
