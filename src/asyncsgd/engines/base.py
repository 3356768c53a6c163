"""The engine interface: engines decide *when* core transitions happen and *where* tensors live.

An engine receives a :class:`~asyncsgd.assembly.job.Job` and a :class:`Monitor`. It builds the server and
learners from the job, drives pull → gradient → encode → push → apply until the job's budget is
reached or the monitor asks it to stop, and reports every push to the monitor with its
:class:`Timing`. The monitor records; the engine never writes files itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from asyncsgd.assembly.job import Job
from asyncsgd.config.schema import RunConfig
from asyncsgd.vocabulary.reporting import EngineResult, Monitor


class Engine(ABC):
    name: ClassVar[str]
    learners_here: ClassVar[bool] = True
    """Learners compute in processes of this machine, so the ``device`` setting must exist here
    (checked when a job is built); an engine placing them elsewhere checks it there."""

    @abstractmethod
    def run(self, job: Job, monitor: Monitor) -> EngineResult: ...

    @classmethod
    def check(cls, job: Job) -> None:
        """Raise a ConfigError for settings this engine cannot run (called when a job is built)."""
        return None

    @classmethod
    def process_bytes(cls, config: RunConfig) -> int:
        """Memory the processes this engine starts on this machine take besides the model's copies
        (an interpreter with torch each), for the check that a run fits before it starts."""
        return 0
