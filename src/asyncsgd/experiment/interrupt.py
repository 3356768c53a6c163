"""Turn Ctrl-C and SIGTERM into a stop request the engines poll, so runs end between updates.

The first signal sets a flag: the engine finishes the update in progress, the recorder flushes,
and the partial summary is written. A second Ctrl-C raises KeyboardInterrupt at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopFlag:
    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None

    def set(self, signum: int) -> None:
        self.signal = signum


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
