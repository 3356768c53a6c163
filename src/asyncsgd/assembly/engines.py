"""The engine registry. Engines stand above the assembly (they run a :class:`Job`), so the
assembly names them by where they live and imports one only when a run asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncsgd.registry import Registry

if TYPE_CHECKING:
    from asyncsgd.engines.base import Engine

ENGINES: Registry[type[Engine]] = Registry("engine")
ENGINES.register_lazy(
    "sim", "asyncsgd.engines.sim.engine:SimEngine",
    "deterministic discrete-event simulation of p learners (simulated time)",
)  # fmt: skip
ENGINES.register_lazy(
    "local", "asyncsgd.engines.local.engine:LocalEngine",
    "p learner processes on this machine, parameters in shared memory (wall time)",
)  # fmt: skip
ENGINES.register_lazy(
    "ray", "asyncsgd.engines.ray.engine:RayEngine",
    "learner and server-shard actors on a Ray cluster, or on this machine (wall time)",
)  # fmt: skip
