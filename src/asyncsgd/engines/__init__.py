"""Engines: the only place where scheduling, processes and transports live."""

from asyncsgd.engines import local, sim  # noqa: F401  (fill the registry)
from asyncsgd.engines.base import ENGINES, PHASES, Engine, EngineResult, Monitor, Timing

__all__ = ["ENGINES", "PHASES", "Engine", "EngineResult", "Monitor", "Timing"]
