"""Capacity of a parameter server past one machine: updates/s and staleness from per-push costs.

A timing-only replay of the simulator's asynchronous cycle (``engines/sim``), without tensors, so
that p = 1,024 learners and d = 10^7 parameters cost only events::

    pull (latency + pull_bytes/bandwidth) → compute (delay model) → push (latency +
    push_bytes/bandwidth) → FIFO queue at the server → apply (server time) → next pull

With its defaults (one shard, no pull service, server links not shared) it is that clock event
for event: same heap keys, same tie-breaking by scheduling order, so it gives the simulator's
simulated times and staleness τ exactly (tests/theory/test_capacity.py holds it to that). Beyond
the simulator it models what a cluster adds:

* ``shards = S``: S servers, each holding d/S coordinates, each with its own FIFO queue. Every
  push and pull touches every shard, and a shard's costs are ``fixed + per_push / S``; the shards
  are then identical queues fed the same arrivals, so their schedules coincide and one
  representative shard is simulated exactly.
* ``pull_time``: seconds a pull occupies a shard (a Ray actor serves its calls one at a time;
  ``local`` copies under the shard's lock). The pulled version is read when the pull is asked for.
* ``server_links``: each shard's network link carries one transfer at a time in each direction
  (full duplex), ``bytes / (S · bandwidth)`` of it per push or pull, so a shard's link is a FIFO
  queue like its processor; a learner's own link is never shared (one message at a time).

Not modelled: contention among the learners' links or in the switch, stragglers beyond the delay
model, the learners' CPUs shared with servers, failures. Pure: no clock, thread or file.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asyncsgd.errors import ConfigError

Draw = Callable[[int], float]
"""Seconds of compute of learner ``i``'s next push: the simulator's ``DelaySampler`` of a delay
model (``asyncsgd.delays``), so that the model draws what the simulator would."""


@dataclass(frozen=True)
class Cluster:
    """What one push costs where, in seconds and bytes; every shard's share of d is d / S."""

    learners: int
    push_bytes: float
    """Bytes of one push on the wire (the whole push: all shards' parts)."""
    pull_bytes: float
    """Bytes of one pull (4d for float32 parameters)."""
    shards: int = 1
    latency: float = 0.0
    """Seconds per message, each way."""
    bandwidth: float = math.inf
    """Bytes per second of every link."""
    apply_time: float = 0.0
    """Server seconds to apply one push over all d coordinates (the simulator's ``server_time``)."""
    apply_fixed: float = 0.0
    """Server seconds per update and shard that do not shrink with S (a call's overhead)."""
    pull_time: float = 0.0
    """Server seconds a pull of all d occupies the server (0: pulls never queue)."""
    server_links: bool = False

    def __post_init__(self) -> None:
        for key, value, low in (("learners", self.learners, 1), ("shards", self.shards, 1)):
            if not (isinstance(value, int) and value >= low):
                raise ConfigError(key, f"must be an integer >= {low}, got {value!r}")
        if not (self.bandwidth > 0):
            raise ConfigError("bandwidth", f"must be > 0 bytes/s, got {self.bandwidth!r}")
        for key in ("push_bytes", "pull_bytes", "latency", "apply_time", "apply_fixed", "pull_time"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(key, f"must be a finite number >= 0, got {value!r}")

    def transfer(self, nbytes: float) -> float:
        """A message through a learner's link: the simulator's ``latency + bytes/bandwidth``."""
        return self.latency + (0.0 if math.isinf(self.bandwidth) else nbytes / self.bandwidth)

    def occupancy(self, nbytes: float) -> float:
        """Seconds a shard's link carries its 1/S of a message of ``nbytes``."""
        return 0.0 if math.isinf(self.bandwidth) else nbytes / (self.shards * self.bandwidth)

    @property
    def service(self) -> float:
        """Seconds one push occupies a shard's processor."""
        return self.apply_fixed + self.apply_time / self.shards

    @property
    def pull_service(self) -> float:
        """Seconds one pull occupies a shard's processor: its slice's copy. The call's fixed part is
        the push's (one exchange per update answers the push with the pull, as in ``ray``)."""
        return self.pull_time / self.shards


@dataclass(frozen=True)
class Pushed:
    """One applied push: its learner, its staleness and when its apply ended."""

    learner: int
    tau: int
    end: float
    waited: float
    """Seconds it queued for the shard's link and processor."""


@dataclass(frozen=True)
class Capacity:
    """A steady-state prediction (the later half of the pushes)."""

    updates_per_s: float
    tau_mean: float
    tau_p95: float
    utilisation: float
    """Busy fraction of a shard's busiest resource (processor, link in, link out)."""
    bound: float
    """``bound(cluster, mean compute)``: no schedule does better."""


def simulate(cluster: Cluster, compute: Draw, updates: int) -> list[Pushed]:
    """The first ``updates`` applied pushes, in apply order, on the simulator's clock."""
    if not (isinstance(updates, int) and updates >= 1):
        raise ConfigError("updates", f"must be an integer >= 1, got {updates!r}")
    c = cluster
    heap: list[tuple[float, int, int]] = []
    seq = itertools.count()
    pulled = [0] * c.learners
    queued = [0.0] * c.learners
    version = 0
    cpu_free = link_in = link_out = 0.0
    push_time, pull_trip = c.transfer(c.push_bytes), c.transfer(c.pull_bytes)
    push_link, pull_link = c.occupancy(c.push_bytes), c.occupancy(c.pull_bytes)

    def start(i: int, now: float) -> None:
        nonlocal cpu_free, link_out
        pulled[i], ready, waited = version, now, 0.0
        if c.pull_service:
            ready = max(now, cpu_free) + c.pull_service
            cpu_free, waited = ready, ready - now - c.pull_service
        pull = pull_trip + (ready - now)
        if c.server_links and link_out > ready:
            link_out += pull_link
            pull += link_out - ready
            waited += link_out - ready
        elif c.server_links:
            link_out = ready + pull_link
        queued[i] = waited
        heapq.heappush(heap, (now + pull + compute(i) + push_time, next(seq), i))

    for i in range(c.learners):
        start(i, 0.0)
    done: list[Pushed] = []
    while len(done) < updates:
        now, _, i = heapq.heappop(heap)
        if i < 0:  # an apply ends: the server's version moves, the learner starts again
            i = -i - 1
            tau = version - pulled[i]
            version += 1
            done.append(Pushed(i, tau, now, queued[i]))
            start(i, now)
            continue
        arrived = now
        if c.server_links:
            arrived = now if link_in <= now - push_link else link_in + push_link
            link_in = arrived
        begin = max(arrived, cpu_free)
        cpu_free = begin + c.service
        queued[i] += begin - now
        heapq.heappush(heap, (cpu_free, next(seq), -i - 1))
    return done


def bound(cluster: Cluster, compute_mean: float) -> float:
    """Updates/s no schedule exceeds: p learners each spending at least a pull, a compute, a push
    and an apply per update, and every shard's processor and links serving each update once."""
    c = cluster
    cycle = c.transfer(c.pull_bytes) + compute_mean + c.transfer(c.push_bytes) + c.service + c.pull_service
    limits = [c.learners / cycle if cycle > 0 else math.inf]
    if c.service + c.pull_service > 0:
        limits.append(1.0 / (c.service + c.pull_service))
    if c.server_links:
        limits += [1.0 / t for t in (c.occupancy(c.push_bytes), c.occupancy(c.pull_bytes)) if t > 0]
    return min(limits)


def predict(cluster: Cluster, compute: Draw, compute_mean: float, updates: int | None = None) -> Capacity:
    """Steady-state updates/s and staleness: a run of ``updates`` pushes (default 40 per learner,
    at least 2,000), measured over its later half."""
    n = updates if updates is not None else max(2000, 40 * cluster.learners)
    pushes = simulate(cluster, compute, n)
    later = pushes[n // 2 :]
    first, last = pushes[n // 2 - 1].end, later[-1].end
    rate = len(later) / (last - first) if last > first else math.inf
    taus = np.array([p.tau for p in later], dtype=float)
    c = cluster
    busy = [c.service + c.pull_service]
    if c.server_links:
        busy += [c.occupancy(c.push_bytes), c.occupancy(c.pull_bytes)]
    return Capacity(
        updates_per_s=rate,
        tau_mean=float(taus.mean()),
        tau_p95=float(np.percentile(taus, 95)),
        utilisation=min(1.0, rate * max(busy)),
        bound=bound(cluster, compute_mean),
    )
