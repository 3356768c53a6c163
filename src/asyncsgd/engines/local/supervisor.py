"""Starting, watching and stopping learner processes.

Learners start from a ``forkserver`` (torch is imported once, in a process that has started no
compute threads, and each learner is forked from it in milliseconds) or, with
``start_method="spawn"``, as fresh interpreters. A learner's death is seen through its process
sentinel; :meth:`Supervisor.close` always ends every process it started (a polite stop through the
arena, then SIGTERM, then SIGKILL, each with a timeout), so no learner outlives a run, failed or not;
and a learner ends itself within milliseconds when the driver dies (see :mod:`.worker`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing import process, util
from multiprocessing.connection import Connection, wait
from typing import Any

from asyncsgd.engines.local import worker
from asyncsgd.engines.local.worker import WorkerArgs

PRELOAD = [
    "asyncsgd.engines.local.worker",
    "asyncsgd.engines",
    "asyncsgd.experiment",
    "asyncsgd.engines.local.forkserver",  # last: its exit handler must run before the others
]


@dataclass
class Handle:
    learner: int
    process: Any
    conn: Connection
    incarnation: int
    started: float
    done: bool = False


@dataclass
class Death:
    learner: int
    incarnation: int
    time: float
    exitcode: int | None
    held_shards: list[int] = field(default_factory=list)
    """Shards whose lock it died holding: each was taken over (settled) by a survivor or the
    supervisor, and the take-over named it (see :func:`.flight.settle`)."""
    updates: int = 0
    respawned: bool = False
    in_flight: dict[str, Any] | None = None
    """Its push that the death cut before its record came out (see :func:`.flight.in_flight`)."""
    cause: str = ""
    """Why, when the exit code does not say: it died while starting, or could not be started."""
    taken_over: list[dict[str, Any]] = field(default_factory=list)
    """Who took over each lock it died holding: ``{"shard": s, "by": learner or "supervisor"}``."""

    def to_dict(self) -> dict[str, Any]:
        code = self.exitcode
        sig = signal.Signals(-code).name if code is not None and code < 0 else None
        return {
            "learner": self.learner,
            "incarnation": self.incarnation,
            "time": self.time,
            "exitcode": code,
            "signal": sig,
            "cause": self.cause,
            "held_lock_of_shards": self.held_shards,
            "lock_taken_over_by": self.taken_over,
            "in_flight": self.in_flight,
            "updates_when_detected": self.updates,
            "respawned": self.respawned,
        }


MARK = "asyncsgd-made-by-{pid}"
"""A file in multiprocessing's temporary directory: the process of that pid made the directory."""


def claim_temp_dir() -> None:
    """Mark this process's multiprocessing temporary directory as its own when this process makes
    it now (a spawned child inherits its parent's directory, and so finds one already set); the
    forkserver removes a marked directory once its driver is dead (see :mod:`.forkserver`)."""
    if process.current_process()._config.get("tempdir") is None:  # type: ignore[attr-defined]
        folder = util.get_temp_dir()
        with open(os.path.join(folder, MARK.format(pid=os.getpid())), "x"):
            pass


def context(start_method: str) -> Any:
    ctx = mp.get_context(start_method)
    if start_method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
        claim_temp_dir()  # before the forkserver puts its socket there
    return ctx


class Supervisor:
    def __init__(self, start_method: str = "forkserver") -> None:
        self.ctx = context(start_method)
        self.handles: dict[int, Handle] = {}
        self.retired: list[Handle] = []
        self.all_pids: list[int] = []
        self.closed = False

    def start(self, args: WorkerArgs) -> Handle:
        """Start a learner process; raises OSError or EOFError when it dies while being started."""
        parent, child = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(
            target=worker.main, args=(args, child), name=f"asyncsgd-learner-{args.learner}", daemon=True
        )
        try:
            proc.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        handle = Handle(args.learner, proc, parent, args.incarnation, time.perf_counter())
        if args.learner in self.handles:
            self.retired.append(self.handles[args.learner])
        self.handles[args.learner] = handle
        self.all_pids.append(proc.pid)
        return handle

    def alive(self) -> list[Handle]:
        return [h for h in self.handles.values() if h.process.exitcode is None]

    def wait(self, timeout: float) -> list[Handle]:
        """Handles whose process ended (waiting at most ``timeout`` seconds for one)."""
        running = {h.process.sentinel: h for h in self.handles.values() if not h.done}
        if not running:
            return []
        ended = wait(list(running), timeout)
        out = []
        for sentinel in ended:
            handle = running[sentinel]  # type: ignore[index]
            handle.process.join(0)
            handle.done = True
            out.append(handle)
        return out

    def close(self, grace: float) -> None:
        """End every process: join, then SIGTERM, then SIGKILL, each for at most ``grace`` seconds."""
        if self.closed:
            return
        self.closed = True
        handles = [*self.retired, *self.handles.values()]
        procs = [h.process for h in handles]
        deadline = time.perf_counter() + grace
        for p in procs:
            p.join(max(0.0, deadline - time.perf_counter()))
        for action in ("terminate", "kill"):
            left = [p for p in procs if p.exitcode is None]
            if not left:
                break
            for p in left:
                getattr(p, action)()
            deadline = time.perf_counter() + grace
            for p in left:
                p.join(max(0.0, deadline - time.perf_counter()))
        for h in handles:
            h.conn.close()
        self.exitcodes = {h.process.pid: h.process.exitcode for h in handles}
