"""The settings of the engines, declared where the assembly sees them without importing an engine
(engines stand above the assembly): the simulator's time model, and the wall-clock engines'
processes, shards, faults and Ray resources."""

from __future__ import annotations

import math

from asyncsgd.delays.models import MAX_SIM_SECONDS
from asyncsgd.errors import ConfigError
from asyncsgd.vocabulary.settings import MAX_COUNT, MAX_RATE, setting

MAX_LEARNERS = 4096
MAX_THREADS = 1024
MAX_RAY_UNITS = 1024.0
RAY_UNIT = 1e-4
"""Ray reserves fractional resources in steps of 0.0001."""

SCHEDULES = ("compute", "fixed", "trace")

SIM = (
    setting(
        "schedule",
        "compute",
        "where the simulator's staleness comes from: compute (learners' compute times drawn from delay), "
        "fixed (τ drawn directly from staleness_dist), trace (the pushes of the run recorded in trace)",
        choices=SCHEDULES,
    ),
    setting(
        "delay", "exponential", "compute-time model of schedule=compute: constant, exponential, lognormal"
    ),
    setting("trace", "", "schedule=trace: the run directory (or its trace.csv) whose pushes are replayed"),
    setting("slow_learners", 0, "number of straggler learners (the last ones)", 0, MAX_LEARNERS),
    setting("slow_factor", 4.0, "stragglers compute this many times slower", 1, MAX_RATE),
    setting("staleness", 4, "schedule=fixed: largest τ", 0, 10**6),
    setting("staleness_dist", "uniform", "schedule=fixed: uniform, constant or geometric"),
    setting("latency", 0.0, "simulated seconds per message (pull or push)", 0, MAX_SIM_SECONDS),
    setting("bandwidth", math.inf, "simulated link bandwidth, bytes per second", 0, math.inf, True),
    setting("server_time", 0.0, "simulated seconds the server spends applying one push", 0, MAX_SIM_SECONDS),
    setting(
        "sim_workers",
        0,
        "sim: threads computing the learners' gradients, the event loop's own included, while the "
        "event order stays the simulator's (same results for any count; 1: serial; 0: for a model of "
        "at least 20,000 parameters one per core left over by the intra-op threads, up to learners, "
        "else serial); schedule=fixed and trace run serially",
        0,
        MAX_THREADS,
    ),
)
"""The simulator's time model (``delay_mean`` and ``delay_sigma`` belong to the delay models), and
how many threads compute it."""

EXECUTION_ONLY = frozenset({"sim_workers"})
"""Settings that change how fast a run computes, never what: no part of its id."""

WALL_CLOCK = (
    setting(
        "shards",
        1,
        "local, ray: parameter-server shards S, each with its own version counter and lock or actor",
        1,
        MAX_THREADS,
    ),
    setting(
        "learner_threads",
        1,
        "local, ray: torch intra-op threads per learner process or actor",
        1,
        MAX_THREADS,
    ),
    setting("hogwild", False, "local: learners add updates to the shared parameters without locks"),
    setting("respawn", False, "local, ray: restart a learner process or actor that dies"),
    setting(
        "timeout",
        60.0,
        "local, ray: longest any blocking wait or remote call may last, seconds",
        0,
        MAX_RATE,
        True,
    ),
    setting(
        "ray_address",
        "",
        "ray: address of a running Ray cluster to join (host:port, or auto); empty: start a private Ray "
        "instance on 127.0.0.1 for the run",
    ),
    setting(
        "ray_cpus_per_learner",
        1.0,
        "ray: CPUs each learner actor reserves from the cluster",
        0,
        MAX_RAY_UNITS,
    ),
    setting(
        "ray_gpus_per_learner",
        0.0,
        "ray: GPUs each learner actor reserves (fractions share a GPU); needed for device=cuda",
        0,
        MAX_RAY_UNITS,
    ),
    setting(
        "ray_cpus_per_shard", 1.0, "ray: CPUs each parameter-server shard actor reserves", 0, MAX_RAY_UNITS
    ),
    setting(
        "ray_learner_resources",
        "",
        "ray: custom Ray resources each learner actor also reserves, as NAME:AMOUNT[,NAME:AMOUNT] "
        "(places learners on the nodes that offer them, e.g. started with --resources='{\"learners\": 8}')",
    ),
    setting(
        "ray_shard_resources",
        "",
        "ray: custom Ray resources each parameter-server shard actor also reserves, as "
        "NAME:AMOUNT[,NAME:AMOUNT] (places shards on the nodes that offer them)",
    ),
    setting(
        "checkpoint_every",
        0,
        "save a checkpoint every this many updates (0: never); see --resume",
        0,
        MAX_COUNT,
    ),
)
"""The wall-clock engines (``local``, ``ray``)."""

RAY_RESOURCES = ("ray_cpus_per_learner", "ray_gpus_per_learner", "ray_cpus_per_shard")
RAY_CUSTOM = ("ray_learner_resources", "ray_shard_resources")
RAY_BUILTIN = ("CPU", "GPU", "memory", "object_store_memory")
"""Resources with settings (or meanings) of their own: not named in a custom-resource setting."""


def custom_resources(key: str, text: str) -> dict[str, float]:
    """``"NAME:AMOUNT[,NAME:AMOUNT]"`` as Ray's ``resources`` option; a ConfigError naming ``key``."""
    out: dict[str, float] = {}
    for entry in (e.strip() for e in text.split(",")) if text.strip() else ():
        name, sep, amount = entry.rpartition(":")
        name = name.strip()
        try:
            value = float(amount) if sep else math.nan
        except ValueError:
            value = math.nan
        if not name or not math.isfinite(value) or not 0 < value <= MAX_RAY_UNITS:
            raise ConfigError(
                key, f"expected NAME:AMOUNT entries (0 < AMOUNT <= {MAX_RAY_UNITS:g}), got {entry!r}"
            )
        if name in RAY_BUILTIN or name.startswith("node:"):
            raise ConfigError(
                key, f"{name!r} is Ray's own resource: use ray_cpus_per_* / ray_gpus_per_learner"
            )
        units = value / RAY_UNIT
        if abs(units - round(units)) > 1e-6:
            raise ConfigError(key, f"{entry!r}: AMOUNT must be a multiple of {RAY_UNIT:g} (Ray's unit)")
        if name in out:
            raise ConfigError(key, f"{name!r} named twice")
        out[name] = value
    return out
