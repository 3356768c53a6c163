"""Ends a private Ray instance when the driver that started it is gone, however it went.

Run by the driver as ``python -I reaper.py FOLDER DRIVER_PID`` in a session of its own (no
terminal signal reaches it), with a pipe from the driver on its standard input. When that pipe
closes (the driver closed it at the end of a run, or the driver died and the kernel closed it),
the reaper kills every process that has a file open under ``FOLDER`` (the instance's temporary
folder: Ray's GCS, raylet, agents and workers all log there, and nothing else does), then
removes ``FOLDER``.

Why it is needed: Ray ties the GCS and the raylet to the driver (the kernel kills them when it
dies), but their own children are not tied to anything. After a SIGKILL of the driver, the
actors' worker processes live on for one or two seconds, until they notice the raylet is gone,
and the dashboard and runtime-env agents for a minute or more. And Ray keeps every session's
folder (logs, sockets) for good.

It imports the standard library only (not asyncsgd, not Ray), so it starts in milliseconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import suppress

GIVE_UP = 10.0
"""Seconds after which the reaper stops looking for processes (each is killed at first sight)."""


def holders(folder: str, spare: set[int]) -> list[int]:
    """Live processes, other than ``spare``, with a file open under ``folder``."""
    inside = folder.rstrip("/") + "/"
    found: list[int] = []
    if not os.path.isdir("/proc"):  # not Linux: the folder is removed, the processes left to Ray
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in spare:
            continue
        with suppress(OSError):  # gone meanwhile, or not ours to read
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with suppress(OSError):
                    if os.readlink(fd.path).startswith(inside):
                        found.append(int(entry.name))
                        break
    return found


def gone(pid: int) -> bool:
    """``pid`` has exited (a zombie waits only for its parent to read its status)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def reap(folder: str, spare: set[int]) -> list[int]:
    """Kill the processes holding files under ``folder`` until none is left; the pids killed."""
    killed: list[int] = []
    deadline = time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        pids = holders(folder, spare)
        if not pids:
            break
        for pid in pids:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed += pids
        wait_until = time.monotonic() + 1.0
        while not all(gone(pid) for pid in pids) and time.monotonic() < wait_until:
            time.sleep(0.01)
    return killed


def main(argv: list[str]) -> int:
    folder, driver = argv[1], int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the pipe decides
    while sys.stdin.buffer.read(4096):
        pass
    reap(folder, {os.getpid(), driver})
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
