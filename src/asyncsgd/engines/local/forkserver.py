"""Imported by the forkserver that starts a run's learners (the last module of its preload list),
and by no other process: once the driver has died, the forkserver's exit is quick and clean.

The forkserver exits when every process holding its "alive" pipe is gone: the driver and every
learner. After a normal run the driver's own exit handlers remove its multiprocessing temporary
directory, which holds the forkserver's socket. A driver killed outright runs no handler, so the
forkserver, the last process of the run, cleans up: it removes that directory if its driver made
it (:func:`~.supervisor.claim_temp_dir` left a mark there), and otherwise only its own socket (a process
spawned by another, a sweep's worker for one, shares its parent's directory, which is not its to
remove while the parent and its other children use it). It also skips the slow interpreter shutdown
of a process that imported torch (over a second on a loaded machine), since it has nothing to flush.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
from multiprocessing import forkserver

from asyncsgd.engines.local.supervisor import MARK

_PARENT = os.getppid()


def _leave() -> None:
    server = forkserver._forkserver  # type: ignore[attr-defined]
    address = server._forkserver_address
    # only in a forkserver (it knows its address, not a server pid) whose driver has died
    if server._forkserver_pid is not None or not isinstance(address, str) or os.getppid() == _PARENT:
        return
    folder = os.path.dirname(address)
    if os.path.exists(os.path.join(folder, MARK.format(pid=_PARENT))):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(address)
    os._exit(0)


atexit.register(_leave)
