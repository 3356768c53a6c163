"""``ray``: learner actors and parameter-server shard actors on a Ray cluster (wall time).

The math runs in the actors, through the same core objects the simulator uses: S shard actors,
each a core server over one slice of the parameters (:mod:`.shard`), and p learner actors, each a
core learner that calls the shards itself, one fused push-and-pull per shard and cycle
(:mod:`.learner`). The driver (the calling process) starts them and then only watches and reads:
it drains the shards' record logs in batches and joins them into one record per push, in apply
order (:mod:`.records`), accounting for every update (:mod:`.accounting`); evaluates the
snapshots shards took at the versions due; holds a long ``run`` call on every learner, which ends
when the learner ends, pauses or dies (a death is recorded and the learner optionally restarted);
saves a checkpoint when shard 0 has paused everyone at a multiple of ``checkpoint_every``; and
turns a stop request into a flag shard 0 answers every learner with. Whether the budget was met is
judged on shard 0's own counts, never on the rows the driver has read so far. Every remote call it
makes has a timeout derived from the ``timeout`` setting.
"""

from __future__ import annotations

import time
import uuid
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config.engines import custom_resources
from asyncsgd.config.schema import RunConfig
from asyncsgd.core.shards import ShardPlan
from asyncsgd.engines.base import Engine
from asyncsgd.engines.common import check_wall_clock
from asyncsgd.engines.driver import Driver
from asyncsgd.engines.ray.accounting import Accounts
from asyncsgd.engines.ray.cluster import INSTALL, Cluster, connect, import_ray, ray_installed
from asyncsgd.engines.ray.faults import ActorDeath, first_line
from asyncsgd.engines.ray.lifecycle import Handle, Learners
from asyncsgd.engines.ray.records import Joined, Joiner
from asyncsgd.errors import ConfigError, EngineFailure
from asyncsgd.vocabulary.reporting import EngineResult, Monitor

DRAIN_EVERY = 0.05
"""Seconds between the driver's reads of the shards' record logs (records wait there, learners never)."""
START_TIMEOUT = 120.0
ACTOR_PROCESS_BYTES = 256 * 2**20
"""What a learner or shard actor's worker process holds besides its share of the model (an idle Ray
worker holds about 90 MiB of its own; one that imported torch, more)."""
"""Actor start-up (a fresh worker process imports torch) may take longer than a call."""


def check_ray(job: Job) -> None:
    """Settings the ray engine cannot run, as a ConfigError naming the setting."""
    cfg = job.config
    if not ray_installed():
        raise ConfigError("engine", f"engine 'ray' needs the ray package: {INSTALL}")
    check_wall_clock(job, "ray")
    if cfg.hogwild:
        raise ConfigError("hogwild", "engine 'ray' applies every push in a shard actor (hogwild: 'local')")
    if cfg.ssp_bound >= 0:
        raise ConfigError("ssp_bound", "engine 'ray' runs unbounded staleness (use engine='local' or 'sim')")
    if cfg.partition != "disjoint":
        raise ConfigError("partition", "engine 'ray' gives every learner its own data (partition='disjoint')")
    if cfg.device != "cpu" and cfg.ray_gpus_per_learner <= 0:
        raise ConfigError(
            "ray_gpus_per_learner", f"device={cfg.device!r} needs GPUs on the learner actors: set it > 0"
        )


class RayEngine(Engine):
    name: ClassVar[str] = "ray"
    learners_here: ClassVar[bool] = False  # learners check ``device`` where they run

    def __init__(self, learner_factory: Any = None) -> None:
        self.learner_factory = learner_factory
        self.current: _Run | None = None
        """The run in progress (its actors), for whoever drives this engine."""

    @classmethod
    def check(cls, job: Job) -> None:
        check_ray(job)

    @classmethod
    def process_bytes(cls, config: RunConfig) -> int:
        if config.ray_address:  # a cluster of its own: its machines' memory is theirs to judge
            return 0
        return (config.learners + config.shards) * ACTOR_PROCESS_BYTES

    def run(self, job: Job, monitor: Monitor) -> EngineResult:
        self.current = _Run(job, monitor, self.learner_factory)
        return self.current.execute()


class _Run(Learners, Driver):
    def __init__(self, job: Job, monitor: Monitor, factory: Any) -> None:
        super().__init__(job, monitor, ActorDeath)
        self.factory = factory
        self.size = job.layout().size
        self.bounds = list(ShardPlan(self.size, self.S))
        self.joiner = Joiner(self.S)
        self.prefix = f"asyncsgd-{uuid.uuid4().hex[:10]}"
        self.handles: dict[int, Handle] = {}
        self.retired: list[Handle] = []
        self.shards: list[Any] = []
        self.shard_info: list[dict[str, Any]] = []
        self.accounts = Accounts(self.S)
        self.server: dict[str, Any] = {"updates": 0, "samples": 0, "checkpoint": False}
        """Shard 0's admission, as of the last drain: the budget is judged on it."""
        if self.restored is not None:
            self.accounts.load_state_dict(self.restored["accounting"])
        self.origin = time.time()
        self.round = 0
        self.stopping = False
        self.cluster: Cluster | None = None

    # -- setup --------------------------------------------------------------------------------

    def _check_resources(self, cluster: Cluster) -> None:
        cfg = self.cfg
        need = self.p * cfg.ray_cpus_per_learner + self.S * cfg.ray_cpus_per_shard
        have = cluster.resources.get("CPU", 0.0)
        if need > have:
            raise ConfigError(
                "ray_cpus_per_learner", f"{self.p} learners × {cfg.ray_cpus_per_learner:g} CPUs + {self.S} "
                f"shards × {cfg.ray_cpus_per_shard:g} CPUs need {need:g} CPUs; the cluster has {have:g}",
            )  # fmt: skip
        for key, count in (("ray_learner_resources", self.p), ("ray_shard_resources", self.S)):
            for name, amount in custom_resources(key, getattr(cfg, key)).items():
                if count * amount > cluster.resources.get(name, 0.0):
                    raise ConfigError(key, f"{count} actors × {amount:g} {name!r} need {count * amount:g}; "
                                      f"the cluster offers {cluster.resources.get(name, 0.0):g}")  # fmt: skip
        gpus, have_gpus = self.p * cfg.ray_gpus_per_learner, cluster.resources.get("GPU", 0.0)
        if gpus > have_gpus:
            raise ConfigError(
                "ray_gpus_per_learner", f"{self.p} learners need {gpus:g} GPUs; the cluster has {have_gpus:g}"
            )

    def _get(self, refs: Any, timeout: float | None = None) -> Any:
        return self.ray.get(refs, timeout=self.cfg.timeout if timeout is None else timeout)

    def _start(self) -> None:
        from asyncsgd.engines.ray.learner import LearnerActor
        from asyncsgd.engines.ray.shard import ShardActor

        ray, cfg = self.ray, self.cfg
        self.job_ref = ray.put(self.job)
        start = max(START_TIMEOUT, cfg.timeout)
        shard_cls = ray.remote(
            num_cpus=cfg.ray_cpus_per_shard, scheduling_strategy="SPREAD",
            resources=custom_resources("ray_shard_resources", cfg.ray_shard_resources),
        )(ShardActor)  # fmt: skip
        self.learner_cls = ray.remote(
            num_cpus=cfg.ray_cpus_per_learner, num_gpus=cfg.ray_gpus_per_learner,
            scheduling_strategy="SPREAD",
            resources=custom_resources("ray_learner_resources", cfg.ray_learner_resources),
        )(LearnerActor)  # fmt: skip
        state = self.restored
        if state is not None:
            initial = np.concatenate([s["params"].numpy() for s in state["shards"]])
        else:
            initial = self.job.flat_model("cpu").params.numpy()
        self.shards = [shard_cls.options(name=f"{self.prefix}-shard-{s}").remote() for s in range(self.S)]
        # shard 0 pauses the run at every multiple of checkpoint_every, if checkpoints are kept
        every = cfg.checkpoint_every if cfg.checkpoint_every and self.monitor.checkpoint_due(2**62) else 0
        saved_shards = state["shards"] if state is not None else [None] * self.S
        setups = [
            shard.setup.remote(self.job_ref, s, a, b, initial[a:b], saved_shards[s], every)
            for s, (shard, (a, b)) in enumerate(zip(self.shards, self.bounds, strict=True))
        ]
        saved = dict(state["learners"]) if state is not None else {}
        for i in range(self.p):
            self._spawn(i, saved.get(i))
        try:
            self.shard_info = self._get(setups, start)
            infos = self._get([h.setup for h in self.handles.values()], start)
        except ray.exceptions.GetTimeoutError:
            raise EngineFailure(
                f"engine 'ray': actors did not start within {start:g} s (cluster: {self.cluster.describe()})"
            ) from None
        except ray.exceptions.RayError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, ConfigError):
                raise ConfigError(cause.key, cause.message) from None
            raise EngineFailure(f"engine 'ray': an actor failed to start: {first_line(err)}") from None
        for handle, info in zip(self.handles.values(), infos, strict=True):
            handle.info = info
        self.origin = time.time() - self.book.time_offset
        self._get([shard.go.remote(self.origin) for shard in self.shards])
        for handle in self.handles.values():
            handle.ref = handle.actor.run.remote()

    # -- the run ------------------------------------------------------------------------------
    def execute(self) -> EngineResult:
        cfg = self.cfg
        self.ray: ModuleType = import_ray()
        cpus = self.p * cfg.ray_cpus_per_learner + self.S * cfg.ray_cpus_per_shard
        with connect(cfg.ray_address, cpus, cfg.timeout) as cluster:
            self.cluster = cluster
            self._check_resources(cluster)
            try:
                self._start()
                return self.drive()
            finally:
                self._kill_all()
        raise AssertionError("unreachable")  # pragma: no cover

    def clock(self) -> float:
        return time.time()  # the actors' clock: engine time is the same on every node

    # -- the driver's hooks ---------------------------------------------------------------------
    stop_at_budget = False  # shard 0 ends every learner's run at the budget itself
    judge_lost_after_flush = False  # no learner left: shard 0's counts as read are final

    def poll(self) -> int:
        return self._drain()

    def learners_running(self) -> bool:
        return bool(self._running())

    def restart_learners(self) -> bool:
        """Learners turned away while a dead learner's reservation still held the last updates go on."""
        live = [h for h in self.handles.values() if h.alive]
        if live:
            self._restart(live)
        return bool(live)

    def ask_stop(self) -> bool:
        self._stop()
        return False  # learners end at their next call to shard 0: the loop waits for them

    def checkpoint_due(self) -> bool:
        return bool(self.server["checkpoint"])  # shard 0 has paused the run

    def wait_for_activity(self, delivered: int) -> None:
        self._collect(DRAIN_EVERY)

    def server_counts(self) -> tuple[int, int]:
        """Shard 0's, as of the last drain (the driver may not have read every row yet)."""
        return int(self.server["updates"]), int(self.server["samples"])

    def _stop(self) -> None:
        self.stopping = True
        self._control("stop")

    def _control(self, what: str, learner: int = -1) -> bool:
        try:
            return bool(self._get(self.shards[0].control.remote(what, learner)))
        except self.ray.exceptions.RayError as err:
            raise self._shard_lost(0, err) from None

    # -- records ------------------------------------------------------------------------------
    def _drain(self, deliver: bool = True) -> int:
        """Read every shard's log; deliver the records now complete. Returns how many."""
        ray = self.ray
        refs = [shard.drain.remote(self.book.updates) for shard in self.shards]
        batches = []
        for s, ref in enumerate(refs):
            try:
                batches.append(self._get(ref))
            except ray.exceptions.RayError as err:
                raise self._shard_lost(s, err) from None
        self.round += 1
        for s, (rows, status) in enumerate(batches):
            self.joiner.add(s, rows)
            if status is not None:
                self.server = status
        for handle in [*self.handles.values(), *self.retired]:
            if handle.ref is None and handle.ended_round is not None and handle.ended_round <= self.round:
                self.joiner.close(handle.learner, handle.incarnation)
        if not deliver:
            return 0
        done = self.joiner.ready()
        for joined in done:
            self._deliver(joined)
        return len(done)

    def _deliver(self, joined: Joined, evaluate: bool = True) -> None:
        self.accounts.count(joined)
        record, timing = joined.record, joined.timing
        self.deliver(record, timing, joined.loss, joined.samples, joined.code, joined.shard_taus, evaluate)

    def params_at(self, version: int) -> torch.Tensor:
        """The shards' snapshots at ``version`` (each its current slice if it kept none)."""
        ray = self.ray
        refs = [shard.snapshot.remote(version) for shard in self.shards]
        parts = []
        for s, ref in enumerate(refs):
            try:
                parts.append(self._get(ref)[1])
            except ray.exceptions.RayError as err:
                raise self._shard_lost(s, err) from None
        return torch.from_numpy(np.concatenate(parts))

    def _shard_lost(self, s: int, err: BaseException) -> EngineFailure:
        """A shard's parameters are gone: the run cannot go on (its checkpoint stays valid)."""
        for joined in self.joiner.ready(force=True):
            self._deliver(joined, evaluate=False)  # its shard may be gone
        saved = (
            f"; resume from its last checkpoint ({self.book.checkpoints} written)"
            if self.book.checkpoints
            else ""
        )
        return EngineFailure(
            f"engine 'ray': parameter-server shard {s} was lost at update {self.book.updates} "
            f"({first_line(err)}){saved}"
        )

    # -- checkpoints --------------------------------------------------------------------------
    def _settle(self) -> None:
        """Once every learner has ended and its rows are in: pushes set aside complete late or are torn."""
        late, torn = self.joiner.settle()
        for joined in late:
            self._deliver(joined, evaluate=False)
        for entry in torn:
            self.accounts.tear(entry)

    def take_checkpoint(self) -> None:
        """Shard 0 paused the run (every learner returns after its push): save servers and
        learners as plain data, go on."""
        ray, cfg = self.ray, self.cfg
        self._control("pause")
        deadline = time.perf_counter() + cfg.timeout
        while self._running() or self.joiner.pending:
            if time.perf_counter() > deadline:
                self._control("resume")
                late = f"engine 'ray': learners did not pause for a checkpoint within {cfg.timeout:g} s"
                raise EngineFailure(late)
            self._collect(0.005)
            self._drain()
        self._settle()
        live = [h for h in self.handles.values() if h.alive]
        if self.monitor.checkpoint_due(self.server["updates"]):
            try:
                shards = self._get([shard.state.remote() for shard in self.shards])
            except ray.exceptions.RayError as err:
                raise self._shard_lost(0, err) from None
            learners = {h.learner: h.state for h in live if h.state is not None}
            engine = {"shards": shards, "learners": learners, "accounting": self.accounts.state_dict()}
            self.monitor.save_checkpoint(self.checkpoint_state(engine))
        self._control("resume")
        self.server["checkpoint"] = False
        self._restart(live)

    # -- the end ------------------------------------------------------------------------------
    def finish(self) -> None:
        self._stop()  # learners still running (a stop request, a stall) end at their next call
        deadline = time.perf_counter() + self.cfg.timeout
        while self._running() and time.perf_counter() < deadline:
            self._collect(DRAIN_EVERY)
        for handle in self._running():  # did not end in time: they are killed, their rows kept
            handle.ref, handle.ended_round = None, self.round + 1
        self._drain()
        for joined in self.joiner.ready(force=True):
            self._deliver(joined)
        self._settle()
        try:
            self.finals = self._get([shard.final.remote() for shard in self.shards])
        except self.ray.exceptions.RayError as err:
            raise self._shard_lost(0, err) from None

    def outcome(self) -> EngineResult:
        cfg, finals = self.cfg, self.finals
        params = torch.from_numpy(np.concatenate([f["params"] for f in finals]))
        version = int(finals[0]["updates"])
        every = sorted([*self.retired, *self.handles.values()], key=lambda h: (h.learner, h.incarnation))
        head: dict[str, Any] = {
            "mode": "server",
            "shards": self.S,
            "shard_versions": [int(f["version"]) for f in finals],
            "learner_threads": cfg.learner_threads,
            "cluster": self.cluster.describe() if self.cluster else {},
            "resources": {"cpus_per_learner": cfg.ray_cpus_per_learner, "gpus_per_learner":
                          cfg.ray_gpus_per_learner, "cpus_per_shard": cfg.ray_cpus_per_shard,
                          "learner": custom_resources("", cfg.ray_learner_resources),
                          "shard": custom_resources("", cfg.ray_shard_resources)},
            "actors": {"learners": [self._placement(h) for h in every], "shards": self.shard_info},
            "change_pulls": sum(h.change_pulls for h in every),
        }  # fmt: skip
        memory = sum(int(f["memory_bytes"]) for f in finals)
        return self.result(params.clone(), version, memory, head, self.accounts.report(version))
