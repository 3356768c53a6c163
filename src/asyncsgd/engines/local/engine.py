"""``local``: p learner processes on this machine and a sharded parameter server in shared memory.

The supervisor (the calling process) lays out the arena, starts the learners, and then only
*reads*: it drains the learners' record rings in apply order and reports every push to the
monitor, evaluates the snapshots learners took at the versions due, watches the learner
processes (a death is recorded, its lock recovered, the learner optionally respawned), pauses
everyone at cycle boundaries for a checkpoint, and turns a stop request into a stop flag that
every learner checks before each phase. The math runs in the learners, through the same core
objects the simulator uses (see :mod:`.serving`).
"""

from __future__ import annotations

import os
import pickle
import time
from contextlib import ExitStack
from typing import Any, ClassVar

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config.schema import RunConfig
from asyncsgd.core.server import ParameterServer
from asyncsgd.core.shards import ShardPlan
from asyncsgd.engines.base import Engine
from asyncsgd.engines.common import check_wall_clock
from asyncsgd.engines.driver import Driver
from asyncsgd.engines.local.arena import Arena
from asyncsgd.engines.local.changed_pulls import change_log_shape
from asyncsgd.engines.local.faults import Faults
from asyncsgd.engines.local.main_module import check_main_module
from asyncsgd.engines.local.records import RingReader, Row, row_width
from asyncsgd.engines.local.shared import (
    GO,
    MARK,
    ORIGIN_NS,
    PAUSE,
    RESUME,
    SAMPLES,
    STOP,
    UPDATES,
    Shared,
    Spec,
    tensor_leaves,
)
from asyncsgd.engines.local.supervisor import Death, Supervisor
from asyncsgd.engines.local.worker import LearnerFactory, WorkerArgs
from asyncsgd.errors import ConfigError
from asyncsgd.rules.base import Remedy
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.reporting import EngineResult, Monitor

RING_ROWS = 8192
POLL = 0.002
START_TIMEOUT = 120.0
LEARNER_PROCESS_BYTES = 64 * 2**20
"""What a learner process holds of its own, its share of the model aside (about 49 MiB measured:
forked from the forkserver, it shares torch's pages with it)."""


def template_servers(
    job: Job, layout: FlatLayout, params: torch.Tensor, plan: ShardPlan
) -> list[ParameterServer]:
    """Private copies of the shard servers: their rule state fixes what the arena must hold."""
    if plan.shards == 1:
        return [job.server(params, layout)]
    return [job.server(params[a:b], FlatLayout.single(b - a)) for a, b in plan]


def check_local(job: Job) -> None:
    """Settings the local engine cannot run, as a ConfigError naming the setting."""
    cfg = job.config
    if not hasattr(os, "memfd_create"):
        raise ConfigError("engine", "engine 'local' needs Linux (memfd and robust process-shared mutexes)")
    check_wall_clock(job, "local")
    check_main_module(job.model_factory)
    if not cfg.hogwild:
        return
    if cfg.shards != 1:
        raise ConfigError("shards", "hogwild applies without a server, so it has no shards: set shards=1")
    rule = job.rule()
    state = rule.init(torch.zeros(4), cfg.learners)
    if tensor_leaves(state["optimizer"]):
        raise ConfigError(
            "rule",
            f"hogwild applies updates without locks, but rule {cfg.rule!r} keeps server state that "
            "needs a consistent read-modify-write (use rule='sgd')",
        )
    for remedy, rs in zip(rule.remedies, state["remedies"], strict=True):
        if tensor_leaves(rs) or type(remedy).on_pull is not Remedy.on_pull:
            raise ConfigError(
                "remedy",
                f"hogwild has no consistent server reads; remedy {remedy.name!r} keeps server state "
                "or watches pulls",
            )


class LocalEngine(Engine):
    name: ClassVar[str] = "local"

    def __init__(
        self, learner_factory: LearnerFactory | None = None, start_method: str = "forkserver"
    ) -> None:
        self.learner_factory = learner_factory
        self.start_method = start_method

    @classmethod
    def check(cls, job: Job) -> None:
        check_local(job)

    @classmethod
    def process_bytes(cls, config: RunConfig) -> int:
        return config.learners * LEARNER_PROCESS_BYTES

    def run(self, job: Job, monitor: Monitor) -> EngineResult:
        return _Run(job, monitor, self.learner_factory, self.start_method).execute()


class _Run(Driver):
    def __init__(self, job: Job, monitor: Monitor, factory: LearnerFactory | None, start_method: str) -> None:
        super().__init__(job, monitor, Death)
        self.factory, self.start_method = factory, start_method
        cfg = self.cfg
        flat = job.flat_model("cpu")  # the supervisor only lays out the arena
        self.initial = flat.params
        self.layout = flat.layout
        self.plan = ShardPlan(flat.size, cfg.shards)
        self.templates = template_servers(job, flat.layout, flat.params, self.plan)
        leaves = tuple(
            tuple(
                (path, str(t.dtype).removeprefix("torch."), tuple(t.shape))
                for path, t in tensor_leaves(s.rule_state)
            )
            for s in self.templates
        )
        largest = max(b - a for a, b in self.plan)
        log = (0, 0) if cfg.hogwild else change_log_shape(self.templates[0], largest)
        self.spec = Spec(flat.size, cfg.shards, self.p, RING_ROWS, row_width(cfg.shards), leaves, *log)
        self.ordered = not cfg.hogwild
        self.numbered_drops = 0
        """Dropped pushes that had taken an update number (with shards, numbers come first)."""

    # -- setup --------------------------------------------------------------------------------------
    def _initialise(self, shared: Shared) -> dict[int, dict[str, Any]]:
        """Fill the arena from the initial model or a checkpoint; the learners' saved states."""
        shared.init_locks()
        for s, server in enumerate(self.templates):
            for path, tensor in tensor_leaves(server.rule_state):
                shared.rule_tensor(s, path).copy_(tensor)
        state = self.restored
        if state is None:
            shared.params.copy_(self.initial)
            return {}
        shared.params.copy_(state["params"])
        shared.versions[:] = np.asarray(state["versions"], dtype=np.int64)
        shared.totals[:] = np.asarray(state["totals"], dtype=np.int64)
        shared.hog[:] = np.asarray(state["hog"], dtype=np.int64)
        shared.hog_samples[:] = np.asarray(state["hog_samples"], dtype=np.int64)
        clock, gone = np.asarray(state["clock"], dtype=np.int64), np.asarray(state["gone"], dtype=np.int64)
        live = clock[gone == 0]
        # every learner starts again; one that was gone rejoins at the slowest live clock
        shared.clock[:] = np.where(gone == 1, live.min() if live.size else 0, clock)
        for s, tensors in enumerate(state["rule"]):
            for path, tensor in tensors.items():
                shared.rule_tensor(s, path).copy_(tensor)
        self.numbered_drops = int(state.get("numbered_drops", 0))
        return {i: learner for i, learner in enumerate(state["learners"]) if learner is not None}

    def _args(self, shared: Shared, i: int, state: dict[str, Any] | None) -> WorkerArgs:
        cfg = self.cfg
        return WorkerArgs(
            learner=i, job=self._job_bytes, spec=self.spec, address=shared.arena.address,
            hogwild=cfg.hogwild, threads=cfg.learner_threads, timeout=cfg.timeout,
            eval_every=self.job.eval_every, time_offset=self.book.time_offset,
            incarnation=self.book.incarnations[i], state=state, learner_factory=self.factory,
        )  # fmt: skip

    # -- the run ------------------------------------------------------------------------------------
    def execute(self) -> EngineResult:
        self._job_bytes = pickle.dumps(self.job, protocol=5)
        with ExitStack() as stack:
            arena = Arena.create(self.spec.layout(), name=f"asyncsgd-{self.job.name}")
            stack.callback(arena.close)
            shared = Shared(self.spec, arena)
            self.shared = shared
            states = self._initialise(shared)
            sup = Supervisor(self.start_method)
            self.sup = sup
            self.faults = Faults(self, shared, sup)
            stack.callback(sup.close, min(self.cfg.timeout, 10.0))
            stack.callback(self._stop_all)
            self.reader = RingReader(shared, self.p)
            for i in range(self.p):
                sup.start(self._args(shared, i, states.get(i)))
            self._wait_ready()
            self._arm_checkpoint()
            shared.control[ORIGIN_NS] = time.perf_counter_ns()
            self.origin = time.perf_counter() - self.book.time_offset
            shared.control[GO] = 1
            return self.drive()
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_ready(self) -> None:
        deadline = time.perf_counter() + max(START_TIMEOUT, self.cfg.timeout)
        while True:
            handles = list(self.sup.handles.values())
            ready = [self.shared.ready[h.learner] == h.incarnation for h in handles]
            if all(ready):
                return
            self._reap()
            if all(ready[k] or handles[k].done for k in range(len(handles))) and any(h.done for h in handles):
                if not self.sup.alive():
                    raise RuntimeError("every learner process died before starting (see the errors above)")
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"learner processes not ready within {max(START_TIMEOUT, self.cfg.timeout):g} s"
                )
            time.sleep(0.005)

    def drain(self) -> int:
        """Deliver every record published so far, in apply order; how many."""
        rows = self.reader.drain(self.ordered)
        for row in rows:
            self._deliver(row)
        return len(rows)

    # -- the driver's hooks -------------------------------------------------------------------------
    def poll(self) -> int:
        rows = self.drain()
        self._reap()
        return rows

    def learners_running(self) -> bool:
        return bool(self.sup.alive())

    def ask_stop(self) -> bool:
        self._stop_all()
        return True  # every learner checks the flag before each phase; the end joins them

    def checkpoint_due(self) -> bool:
        """Learners wait at their cycle boundary once the server reached the armed mark; a run that
        ends now (no learner left, the budget spent, a stop asked) ends without it."""
        mark, updates = int(self.shared.control[MARK]), self.server_updates()
        if not mark or updates < mark:
            return False
        if not self.sup.alive() or self.budget_reached() or self.monitor.stop_requested():
            return False
        if self.monitor.checkpoint_due(updates):
            return True
        self._arm_checkpoint()
        return False

    def wait_for_activity(self, delivered: int) -> None:
        if not delivered:
            for handle in self.sup.wait(POLL):
                self.faults.ended(handle)

    def finish(self) -> None:
        self._stop_all()
        self.sup.close(min(self.cfg.timeout, 10.0))
        self._reap()
        self.faults.settle_all()
        for row in self.reader.flush(self.ordered):
            self._deliver(row)

    def server_counts(self) -> tuple[int, int]:
        shared = self.shared
        if self.cfg.hogwild:
            return int(shared.hog.sum()), int(shared.hog_samples.sum())
        return int(shared.totals[UPDATES]), int(shared.totals[SAMPLES])

    def _stop_all(self) -> None:
        if hasattr(self, "shared"):
            self.shared.control[STOP] = 1

    # -- records ------------------------------------------------------------------------------------
    def _deliver(self, row: Row) -> None:
        record = row.record
        if record.accepted and not record.applied and self.spec.shards > 1 and not self.cfg.hogwild:
            self.numbered_drops += 1
        self.deliver(record, row.timing, row.loss, row.samples, row.code, row.shard_taus)

    def _slot(self, version: int) -> int | None:
        """The evaluation slot a learner filled at ``version``, if any."""
        slots = np.flatnonzero(self.shared.eval_version == version) if version else []
        return int(slots[0]) if len(slots) else None

    def params_at(self, version: int) -> torch.Tensor:
        slot, shared = self._slot(version), self.shared
        if slot is not None:
            return shared.eval_params[slot]
        params = torch.empty_like(shared.params)  # another evaluation schedule: the current cut
        params.copy_(shared.params)
        return params

    def evaluated(self, version: int) -> None:
        slot = self._slot(version)
        if slot is not None:
            self.shared.eval_version[slot] = 0

    def _reap(self) -> None:
        for handle in self.sup.wait(0):
            self.faults.ended(handle)

    # -- checkpoints --------------------------------------------------------------------------------
    def _arm_checkpoint(self) -> None:
        """Tell learners the update count at which the next checkpoint is due (0: none): the next
        multiple of ``checkpoint_every`` below the budget, if the monitor saves one there. A learner
        that finds the server there waits at its cycle boundary until the checkpoint is taken."""
        every, mark = self.cfg.checkpoint_every, 0
        if every:
            upcoming = (self.server_updates() // every + 1) * every
            budget = self.job.max_updates
            if (budget is None or upcoming < budget) and self.monitor.checkpoint_due(upcoming):
                mark = upcoming
        self.shared.control[MARK] = mark

    def take_checkpoint(self) -> None:
        shared, sup = self.shared, self.sup
        epoch = int(shared.control[PAUSE]) + 1
        shared.control[PAUSE] = epoch
        deadline = time.perf_counter() + self.cfg.timeout
        states: dict[int, dict[str, Any]] = {}
        while True:  # keep draining: a learner may be waiting on a full ring or an eval slot
            self.drain()
            self._reap()
            for h in sup.alive():
                if h.learner not in states and h.conn.poll():
                    try:
                        got, state = pickle.loads(h.conn.recv_bytes())  # from our own child
                    except (EOFError, OSError):
                        continue
                    if got == epoch:
                        states[h.learner] = state
            alive = sup.alive()
            if all(h.learner in states and shared.acked[h.learner] == epoch for h in alive):
                break
            if time.perf_counter() > deadline:
                shared.control[RESUME] = epoch
                raise TimeoutError(f"learners did not pause for a checkpoint within {self.cfg.timeout:g} s")
            time.sleep(0.001)
        self.faults.settle_all()  # every live learner waits at a boundary: no lock is held
        for row in self.reader.flush(self.ordered):
            self._deliver(row)
        self.monitor.save_checkpoint(self.checkpoint_state(self._engine_state(states)))
        self._arm_checkpoint()
        shared.control[RESUME] = epoch

    def _engine_state(self, learners: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """Plain data only (tensors, numbers, strings, lists and dicts of them)."""
        shared = self.shared
        rule = [
            {path: shared.rule_tensor(s, path).clone() for path, _ in tensor_leaves(server.rule_state)}
            for s, server in enumerate(self.templates)
        ]
        return {
            "params": shared.params.clone(),
            "versions": shared.versions.tolist(),
            "totals": shared.totals.tolist(),
            "hog": shared.hog.tolist(),
            "hog_samples": shared.hog_samples.tolist(),
            "clock": shared.clock.tolist(),
            "gone": shared.gone.tolist(),
            "rule": rule,
            "numbered_drops": self.numbered_drops,
            "learners": [learners.get(i) for i in range(self.p)],
        }

    # -- result -------------------------------------------------------------------------------------
    def outcome(self) -> EngineResult:
        shared, cfg = self.shared, self.cfg
        head: dict[str, Any] = {
            "mode": "hogwild" if cfg.hogwild else "server",
            "shards": cfg.shards,
            "shard_versions": [int(v) for v in shared.versions],
            "learner_threads": cfg.learner_threads,
            "start_method": self.start_method,
            **self.faults.extra(),
        }
        tail = {} if cfg.hogwild else {"change_pulls": int(shared.change_pulls.sum())}
        accounting = self.faults.accounting(self.server_updates(), self.numbered_drops)
        memory = sum(s.memory_bytes() for s in self.templates)
        return self.result(shared.params.clone(), self.server_updates(), memory, head, accounting, tail)
