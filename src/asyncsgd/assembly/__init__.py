"""The assembly: from validated settings to the core objects an engine runs, one recipe for all.

``job.py`` (the :class:`Job` an engine receives), ``checks.py`` (names and combinations of
settings, devices, memory), ``datasets.py`` (which data a config loads), ``auto_lr.py``
(``lr = "auto"`` through the theory) and ``engines.py`` (the engine registry, which names engines
without importing them).
"""

from asyncsgd.assembly.job import Job

__all__ = ["Job"]
