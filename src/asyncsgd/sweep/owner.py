"""Who holds a run: the sweep process that claimed it, and whether that process still lives.

Two sweeps on one database share its runs by claiming each before running it
(:meth:`~asyncsgd.sweep.db.ResultsDB.claim`). A claim names its owner by host, process id and the
process's start time (so a process id reused by a later process is not taken for the owner). A
claim whose owner is gone (on this host) is stale and may be taken over: that is how the runs of
a killed sweep are run again. An owner on another host cannot be checked from here, so its claims
are respected.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

START_TOLERANCE = 2.0
"""Seconds two readings of one process's start time may differ by (the boot time they are
computed from moves with clock adjustments)."""


@cache
def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (None where there is no /proc)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (Unix seconds), None where this cannot be read."""
    fields, boot = _stat(pid), _boot_time()
    if fields is None or boot is None:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start, in ticks


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float | None
    """The process's start time (Unix seconds); None where the system does not tell."""

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), process_started(os.getpid()))

    def alive(self) -> bool:
        """False only when this is certain: the owner ran on this host and its process is gone
        (exited, a zombie, or its id now belongs to a process started at another time)."""
        if self.host != socket.gethostname():
            return True
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # a process of another user: it exists
        fields = _stat(self.pid)
        if fields is not None and fields[0] == "Z":
            return False
        if self.started is None:
            return True
        now = process_started(self.pid)
        return now is None or abs(now - self.started) < START_TOLERANCE

    def __str__(self) -> str:
        return f"{self.host} pid {self.pid}"
