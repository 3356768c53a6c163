"""Turn Ctrl-C and SIGTERM into a stop request the engines poll, so runs end between updates.

A stop request only helps where something polls it: an engine between two updates, a sweep
between two outcomes. Set-up (loading data, probing ``lr = "auto"``, starting learner processes)
polls nothing, so until the flag is first polled a signal raises :class:`Interrupted` at once:
set-up stops promptly and writes nothing. Once polled, the first signal sets the flag: the engine
finishes the update in progress, the recorder flushes, and the partial summary is written. A
second Ctrl-C raises :class:`Interrupted` at once (an abort): the runner writes what the recorder
has, marked ``"aborted"``, and the command exits.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """A signal that could not wait for the next poll (set-up, or a second Ctrl-C).

    A ``KeyboardInterrupt``, so code that cleans up on Ctrl-C cleans up on this too.
    """

    def __init__(self, signum: int, during: str) -> None:
        super().__init__(f"{signal.Signals(signum).name} {during}")
        self.signum = signum
        self.during = during


class StopFlag:
    def __init__(self) -> None:
        self.signal: int | None = None
        self.polled = False
        """Whether something polls the flag now (else a signal interrupts at once)."""

    def __call__(self) -> bool:
        self.polled = True
        return self.signal is not None

    def set(self, signum: int) -> None:
        self.signal = signum

    def setting_up(self) -> None:
        """Set-up begins again (the next method of an experiment): signals interrupt at once until
        the next poll."""
        self.polled = False


def setting_up(stop: Callable[[], bool]) -> None:
    """:meth:`StopFlag.setting_up` for any stop callable (a no-op for those that are no flag)."""
    if isinstance(stop, StopFlag):
        stop.setting_up()


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    """A :class:`StopFlag` set by SIGINT and SIGTERM (the previous handlers are restored after)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.signal is None:
            flag.set(signum)
            if not flag.polled:
                raise Interrupted(signum, "during set-up")
        elif signum == signal.SIGINT:
            raise Interrupted(signum, "a second time")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def describe(err: BaseException) -> str:
    """What interrupted, in a few words: the :class:`Interrupted` behind ``err`` (its cause or
    context), else a Ctrl-C that reached Python's own handler."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, Interrupted):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return "Ctrl-C"
