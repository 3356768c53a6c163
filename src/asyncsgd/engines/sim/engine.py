"""``sim``: a deterministic discrete-event simulator of p learners and one parameter server.

Simulated time, not wall time, decides the order of events. A learner's cycle is::

    pull (latency + 4d/bandwidth) → compute (delay model) → push (latency + bytes/bandwidth)
    → queue at the server (FIFO) → apply (server_time)

Events sit in a min-heap keyed by (time, sequence number); ties are broken by the order in which
they were scheduled, so one seed gives one schedule. The gradient of a push is computed on the
exact parameters its learner pulled, since a learner's parameters and batches are fixed once it
has pulled. Serially (``sim_workers = 1``) it is computed at pull time, leaving only the payload in
flight; with gradient workers (:mod:`~asyncsgd.engines.sim.workers`) the pull draws the batches and
delays and copies the parameters, a worker computes, and the event loop waits for the push only
when an event needs it: its apply, or, on a finite link, its arrival, whose time depends on the
payload's size (such a push waits in a second heap under its earliest possible arrival and is
resolved before any later event pops, keeping its sequence number). So the events, and every bit,
are the same for any worker count. The server's state changes only when an apply event
completes, so a pull at time t sees exactly the updates applied by t.

Protocols: ``async`` (Downpour), ``sync`` (all p gradients on the same parameters, averaged at a
barrier), and ``delay=fixed``, where the staleness τ of each update is drawn directly and the
gradient is taken at the parameters of version ``v − τ`` kept in a ring buffer. With ``ssp_bound
= s ≥ 0`` an asynchronous learner more than s pushes ahead of the slowest waits (bounded
staleness); the wait counts in the ``wait`` phase of its next push. Learners that take local steps
(local SGD, EASGD) run them through the same cycle: ``pre_steps`` before the pull, ``post_steps``
after it; workers compute both, each learner's tasks in order. ``schedule = fixed`` and ``trace``
stay serial: each push is applied before the next one is drawn.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from typing import cast

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.core.learner import Learner
from asyncsgd.core.server import ParameterServer
from asyncsgd.data.streams import BatchStreams
from asyncsgd.delays import DelaySampler
from asyncsgd.delays.trace import TraceSchedule
from asyncsgd.engines.base import Engine
from asyncsgd.engines.cycle import Cycle
from asyncsgd.engines.sim import simulated_time as simtime
from asyncsgd.engines.sim.workers import Done, Task, ThreadModels, Workers, auto_workers
from asyncsgd.errors import ConfigError
from asyncsgd.vocabulary.flat import FlatModel
from asyncsgd.vocabulary.messages import Push
from asyncsgd.vocabulary.reporting import EngineResult, Monitor, Timing

_PULL, _ARRIVE, _APPLIED = 0, 1, 2
NO_LOSS: Done[float] = Done(math.nan)
Flight = tuple["Task[tuple[Push, float]] | Done[tuple[Push, float]]", float]


def _free() -> float:
    """A local step's simulated seconds without a delay model."""
    return 0.0


def _exchange(
    cycle: Cycle, params: torch.Tensor, version: int, batches: tuple, before: Task[float] | Done[float]
) -> tuple[Push, float]:
    """A learner's pull to push, on a worker: the push, and the last local step's loss (of the
    post-pull steps, else of the pre-pull ones)."""
    push, loss = cycle.finish(params, version, batches)
    return push, loss if cycle.learner.post_steps else before.result()


class _Simulation:
    def __init__(self, job: Job, monitor: Monitor, parallel: bool = True) -> None:
        self.job = job
        self.monitor = monitor
        self.flat: FlatModel = job.flat_model()
        # every learner computes on the model of the thread that runs it (see workers.py)
        models = ThreadModels(self.flat)
        p = job.config.learners
        self.learners: list[Learner] = [job.learner(i, cast(FlatModel, models)) for i in range(p)]
        count = auto_workers(job.config.sim_workers, p, self.flat.size) if parallel else 1
        self.workers = Workers(job, models, count, p)
        # One model serves every virtual learner. Unless gradients are taken at older snapshots
        # (delay=fixed, a replayed trace) or at points of the learners' own (local steps), it shares
        # the server's buffer: a pull is then free, which is exact because each gradient is computed
        # at the moment of its pull.
        share = (
            simtime.staleness_model(job.config) is None
            and simtime.trace_schedule(job.config) is None
            and all(learner.grads_at_pull for learner in self.learners)
        )
        self.server: ParameterServer = job.server(self.flat.params, self.flat.layout, copy=not share)
        self.streams: BatchStreams = job.streams()
        self.batch_size = job.config.batch_size
        self.budget = job.budget  # a property that builds the algorithm: read once, not per push
        self.samples_per_push = [self.batch_size * (lr.pre_steps + lr.post_steps) for lr in self.learners]
        self.down_bytes = 4 * self.flat.size
        self.samples = 0
        self.time = 0.0
        self.cycles = self.make_cycles(simtime.delays(job.config))

    def make_cycles(self, delays: DelaySampler | None) -> list[Cycle]:
        """Every learner's cycle on the simulated clock: a local step costs a draw of the learner's
        delay model (nothing without one)."""
        return [
            Cycle(
                learner,
                functools.partial(self.next_batch, i),
                _free if delays is None else functools.partial(delays, i),
            )
            for i, learner in enumerate(self.learners)
        ]

    def next_batch(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.job.batch(self.streams.next(i))

    def batches(self, i: int) -> int:
        """Samples behind one push of learner ``i``: every local step of its cycle."""
        return self.samples_per_push[i]

    def report(self, push: Push, timing: Timing, loss: float) -> bool:
        """Apply ``push``, report it, evaluate when due; True when the run must stop."""
        record = self.server.apply(push)
        samples = self.batches(push.learner)
        self.samples += samples
        self.monitor.on_push(record, timing, loss, samples)
        return self.after_update(record.applied, timing.end)

    def after_update(self, applied: bool, now: float) -> bool:
        server = self.server
        if applied and self.monitor.eval_due(server.version):
            self.monitor.evaluate(server.params, server.version, self.samples, now)
        return self.budget.reached(server.version, self.samples) or self.monitor.stop_requested()

    def result(self) -> EngineResult:
        return EngineResult(
            params=self.server.params.detach().clone(),
            version=self.server.version,
            time=self.time,
            rejected={k: dict(v) for k, v in self.server.rejected.items()},
            server_memory_bytes=self.server.memory_bytes(),
        )

    # -- a cycle's compute, handed to the workers ----------------------------------------------
    def steps_before(self, i: int) -> tuple[Task[float] | Done[float], float]:
        """Start learner ``i``'s steps before its pull: their loss to come, and their seconds."""
        cycle = self.cycles[i]
        if cycle.learner.pre_steps == 0:
            return NO_LOSS, 0.0
        plan = cycle.plan(cycle.learner.pre_steps)
        return self.workers.submit(i, functools.partial(cycle.work, plan.batches)), plan.seconds

    def exchange(
        self, i: int, params: torch.Tensor, version: int, before: Task[float] | Done[float]
    ) -> Flight:
        """Learner ``i`` pulled ``params``: draw its post-pull batches now and hand it the rest (the
        push and its loss to come); its post-pull seconds."""
        cycle = self.cycles[i]
        plan = cycle.plan(cycle.learner.post_steps)
        task = functools.partial(
            _exchange, cycle, self.workers.snapshot(i, params), version, plan.batches, before
        )
        return self.workers.submit(i, task), plan.seconds

    # -- Downpour ---------------------------------------------------------------------------------
    def run_async(self) -> None:
        job, server = self.job, self.server
        link, service = simtime.link(job.config), job.config.server_time
        exact = math.isinf(link.bandwidth)  # the arrival time is known before the push's size
        gate = job.ssp_gate()  # bounded staleness: a learner too far ahead waits for the slowest
        waiting: dict[int, float] = {}  # learner → simulated time it started waiting
        heap: list[tuple[float, int, int, int]] = []
        # pushes in flight whose size sets their arrival: (earliest arrival, seq, learner), resolved
        # before any event that could come later than they do
        unsized: list[tuple[float, int, int]] = []
        pulled: list[float] = [0.0] * len(self.learners)  # an unsized push's departure time
        seq = itertools.count()
        # per learner: its pre-pull steps (loss to come, seconds), then its push to come
        before: list[tuple[Task[float] | Done[float], float]] = [(NO_LOSS, 0.0)] * len(self.learners)
        flights: list[Task[tuple[Push, float]] | Done[tuple[Push, float]]] = [NO_LOSS] * len(self.learners)  # type: ignore[list-item]
        timings: list[Timing] = [Timing()] * len(self.learners)

        def arrive(i: int, start: float, key: int) -> None:
            timing = timings[i]
            # on an unlimited link a push's size does not change its time: no need to wait for it
            timing.push = link.time(0 if exact else self.workers.result(flights[i])[0].payload.nbytes)
            heapq.heappush(heap, (start + timing.push, key, _ARRIVE, i))

        def pull(i: int, now: float) -> None:
            params, version = server.pull(i)
            flights[i], post = self.exchange(i, params, version, before[i][0])
            timing = timings[i]
            timing.pull = link.time(self.down_bytes)
            timing.compute = before[i][1] + post
            timing.bytes_down = self.down_bytes
            start = now + timing.pull + post
            if exact or isinstance(flights[i], Done):
                arrive(i, start, next(seq))
            else:
                key = next(seq)
                heapq.heappush(unsized, (start + link.time(0), key, i))
                pulled[i] = start

        def start_cycle(i: int, now: float, waited: float = 0.0) -> None:
            if gate is not None and not gate.may_start(i):
                waiting[i] = now
                return
            before[i] = self.steps_before(i)
            timings[i] = Timing(compute=before[i][1], wait=waited)
            if self.learners[i].pre_steps == 0:
                pull(i, now)  # right after its own push: no other event in between
            else:
                heapq.heappush(heap, (now + before[i][1], next(seq), _PULL, i))

        for i in range(len(self.learners)):
            start_cycle(i, 0.0)
        server_free = 0.0
        while heap or unsized:
            while unsized and (not heap or unsized[0][:2] <= heap[0][:2]):
                _, key, j = heapq.heappop(unsized)
                arrive(j, pulled[j], key)
            now, _, kind, i = heapq.heappop(heap)
            self.time = now
            timing = timings[i]
            if kind == _PULL:
                pull(i, now)
            elif kind == _ARRIVE:
                start = max(now, server_free)
                server_free = start + service
                timing.wait += start - now
                timing.apply = service
                heapq.heappush(heap, (server_free, next(seq), _APPLIED, i))
            else:
                timing.end = now
                push, loss = self.workers.result(flights[i])
                if self.report(push, timing, loss):
                    return
                if gate is not None:
                    gate.tick(i)
                start_cycle(i, now)
                if gate is not None:
                    for j in gate.released(waiting):
                        start_cycle(j, now, now - waiting.pop(j))

    # -- synchronous SGD ---------------------------------------------------------------------------
    def run_sync(self) -> None:
        job, server = self.job, self.server
        link, service = simtime.link(job.config), job.config.server_time
        p = len(self.learners)
        while True:
            round_start = self.time
            flights, timings = [], []
            for i in range(p):
                loss_before, seconds = self.steps_before(i)
                params, version = server.pull(
                    i
                )  # the same parameters for all: nothing applies before the barrier
                flight, post = self.exchange(i, params, version, loss_before)
                flights.append(flight)
                timings.append(
                    Timing(
                        pull=link.time(self.down_bytes), compute=seconds + post, bytes_down=self.down_bytes
                    )
                )
            pushes, losses = [], []
            for flight, timing in zip(flights, timings, strict=True):
                push, loss = self.workers.result(flight)
                timing.push = link.time(push.payload.nbytes)
                pushes.append(push)
                losses.append(loss)
            done = [t.pull + t.compute + t.push for t in timings]
            barrier = max(done)
            self.time = round_start + barrier + p * service
            records = server.apply_round(pushes)
            for i, (record, timing, loss, d) in enumerate(zip(records, timings, losses, done, strict=True)):
                timing.wait, timing.apply, timing.end = barrier - d, p * service, self.time
                self.samples += self.batches(i)
                self.monitor.on_push(record, timing, loss, self.batches(i))
            if self.after_update(any(r.applied for r in records), self.time):
                return

    # -- pushes computed at older versions (drawn τ, or a recorded one) ----------------------------
    def version_ring(self, slots: int) -> torch.Tensor:
        history = torch.empty(slots, self.flat.size)
        history[0].copy_(self.server.params)
        return history

    def stale_step(self, step: int, i: int, cycle: Cycle, tau: int, history: torch.Tensor) -> bool:
        """Learner ``i`` pushes a gradient taken at version v − τ, read from the ring ``history``
        of the last ``len(history)`` versions; one simulated second per step. True: stop."""
        server, slots = self.server, len(history)
        version = server.version
        params = history[(version - tau) % slots]
        server.note_stale_read(i, params)
        encoded = cycle.exchange(params, version - tau)  # the loss of its post-pull steps alone
        self.time = float(step + 1)
        record = server.apply(encoded.push)
        if record.applied:
            history[server.version % slots].copy_(server.params)
        self.samples += self.batches(i)
        timing = Timing(end=self.time, bytes_down=self.down_bytes)
        self.monitor.on_push(record, timing, encoded.loss, self.batches(i))
        return self.after_update(record.applied, self.time)

    # -- staleness drawn directly -------------------------------------------------------------------
    def run_fixed(self) -> None:
        model = simtime.staleness_model(self.job.config)
        assert model is not None
        rng = simtime.delay_rng(self.job.config, 0)
        history, cycles = self.version_ring(model.max_tau + 1), self.make_cycles(None)
        for step in itertools.count():
            i = step % len(self.learners)
            cycles[i].prepare()
            tau = min(model.sample(rng), self.server.version)
            if self.stale_step(step, i, cycles[i], tau, history):
                return

    # -- a recorded schedule ------------------------------------------------------------------------
    def run_replay(self, schedule: TraceSchedule) -> None:
        """Replay a recorded run's pushes in order: τ from the trace, gradients at version v − τ."""
        history, cycles = self.version_ring(schedule.max_tau + 1), self.make_cycles(None)
        for step, entry in enumerate(schedule.steps):
            i, learner = entry.learner, self.learners[entry.learner]
            if not entry.accepted:  # the recorded push was refused: it only used up its batches
                for _ in range(learner.pre_steps + learner.post_steps):
                    self.streams.next(i)
                continue
            version = self.server.version
            if entry.tau > version:
                raise ValueError(f"{schedule.path}: push {step + 1} has τ={entry.tau} at version {version}")
            cycles[i].prepare()
            if self.stale_step(step, i, cycles[i], entry.tau, history):
                return


class SimEngine(Engine):
    name = "sim"

    @classmethod
    def check(cls, job: Job) -> None:
        """Settings of the wall-clock engines that a simulation would silently ignore."""
        cfg = job.config
        if cfg.checkpoint_every:
            raise ConfigError(
                "checkpoint_every",
                "engine 'sim' takes no checkpoints (a simulated run is deterministic: rerun it); "
                "set checkpoint_every=0 or use engine='local' or 'ray'",
            )
        if cfg.hogwild:
            raise ConfigError(
                "hogwild", "hogwild is a mode of engine 'local' (learner processes, no locks), not of 'sim'"
            )

    def run(self, job: Job, monitor: Monitor) -> EngineResult:
        cfg = job.config
        schedule, fixed = simtime.trace_schedule(cfg), simtime.staleness_model(cfg)
        # a push computed at an older version applies before the next one is drawn: serial
        serial = cfg.protocol != "sync" and (schedule is not None or fixed is not None)
        sim = _Simulation(job, monitor, parallel=not serial)
        try:
            if cfg.protocol == "sync":
                sim.run_sync()
            elif schedule is not None:
                sim.run_replay(schedule)
            elif fixed is not None:
                sim.run_fixed()
            else:
                sim.run_async()
        finally:
            sim.workers.close()
        return sim.result()
