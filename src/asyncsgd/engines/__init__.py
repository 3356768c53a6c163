"""Engines: the only place where scheduling, processes and transports live."""

from asyncsgd.engines import local, ray, sim  # noqa: F401  (fill the registry; ray imports Ray lazily)
from asyncsgd.engines.base import ENGINES, PHASES, Engine, EngineResult, Monitor, Timing

__all__ = ["ENGINES", "PHASES", "Engine", "EngineResult", "Monitor", "Timing"]
