"""Imported by the forkserver that starts a run's learners (the last module of its preload list),
and by no other process: once the driver has died, the forkserver's exit is quick and clean.

The forkserver exits when every process holding its "alive" pipe is gone: the driver and every
learner. After a normal run the driver's own exit handlers remove its multiprocessing temporary
directory, which holds the forkserver's socket. A driver killed outright runs no handler, so the
forkserver, the last process of the run, removes that directory itself; and it skips the slow
interpreter shutdown of a process that imported torch (over a second on a loaded machine), since
it has nothing to flush.
"""

from __future__ import annotations

import atexit
import os
import shutil
from multiprocessing import forkserver

_PARENT = os.getppid()


def _leave() -> None:
    server = forkserver._forkserver  # type: ignore[attr-defined]
    address = server._forkserver_address
    # only in a forkserver (it knows its address, not a server pid) whose driver has died
    if server._forkserver_pid is not None or not isinstance(address, str) or os.getppid() == _PARENT:
        return
    shutil.rmtree(os.path.dirname(address), ignore_errors=True)
    os._exit(0)


atexit.register(_leave)
