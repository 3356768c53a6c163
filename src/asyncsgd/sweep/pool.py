"""A pool of long-lived worker processes, each running one task at a time.

The parent hands each task to a chosen idle worker, so it always knows which run every process
holds: a worker that dies mid-run (killed, out of memory) turns into a ``failed`` outcome for that
run and is replaced. Workers ignore Ctrl-C; :meth:`WorkerPool.request_stop` raises a shared flag
their runs poll, so they end after the update in progress and report what they measured.
Processes are started with ``spawn``: a fresh interpreter, no inherited locks or thread pools.
They are not daemonic, because a run on the ``local`` engine starts learner processes of its own
(a daemonic process may not have children); :meth:`WorkerPool.close` always ends them, and a
worker whose parent died exits by itself (see :func:`~asyncsgd.sweep.worker.worker_main`).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from asyncsgd.sweep.db import Outcome
from asyncsgd.sweep.worker import Task, worker_main

JOIN_SECONDS = 10.0


@dataclass
class _Slot:
    process: BaseProcess
    inbox: Any
    task: Task | None = None
    since: float = 0.0


class WorkerPool:
    def __init__(self, size: int, threads: int = 1) -> None:
        self._ctx = mp.get_context("spawn")
        self._threads = threads
        self.stop_flag = self._ctx.Event()
        self._results: Any = self._ctx.Queue()
        self._slots = [self._start(i) for i in range(size)]
        self.deaths_in_a_row = 0
        """Workers that died since the last outcome a worker delivered (a broken environment)."""

    def _start(self, index: int) -> _Slot:
        inbox = self._ctx.Queue()
        process = self._ctx.Process(
            target=worker_main,
            args=(index, inbox, self._results, self.stop_flag, self._threads),
            name=f"asyncsgd-sweep-worker-{index}",
            daemon=False,
        )
        process.start()
        return _Slot(process, inbox)

    @property
    def size(self) -> int:
        return len(self._slots)

    def idle(self) -> list[int]:
        return [i for i, s in enumerate(self._slots) if s.task is None]

    def busy(self) -> list[Task]:
        return [s.task for s in self._slots if s.task is not None]

    def submit(self, worker: int, task: Task) -> None:
        slot = self._slots[worker]
        if slot.task is not None:
            raise RuntimeError(f"worker {worker} is busy")
        slot.task, slot.since = task, time.time()
        slot.inbox.put(task)

    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes that arrived within ``timeout`` seconds, plus one per worker found dead."""
        out: list[Outcome] = []
        try:
            item = self._results.get(timeout=timeout)
            while True:
                worker, outcome = item
                slot = self._slots[worker]
                if slot.task is not None and slot.task.run_id == outcome.run_id:
                    slot.task = None
                    out.append(outcome)
                    self.deaths_in_a_row = 0
                item = self._results.get_nowait()
        except queue.Empty:
            pass
        for i, slot in enumerate(self._slots):
            if slot.task is not None and not slot.process.is_alive():
                code = slot.process.exitcode
                out.append(
                    Outcome(slot.task.run_id, "failed", slot.since, time.time(),
                            error=f"worker process died (exit code {code})")
                )  # fmt: skip
                self._slots[i] = self._start(i)
                self.deaths_in_a_row += 1
        return out

    def request_stop(self) -> None:
        self.stop_flag.set()

    def close(self) -> None:
        """Let idle workers exit; kill any still running after a grace period."""
        for slot in self._slots:
            if slot.process.is_alive():
                slot.inbox.put(None)
        deadline = time.time() + JOIN_SECONDS
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.time()))
        self.kill()

    def kill(self) -> None:
        for slot in self._slots:
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            slot.inbox.cancel_join_thread()
        self._results.cancel_join_thread()


class SharedPool:
    """One worker pool for sweeps run one after another (a study's parts): started when a sweep
    first needs it, so its workers' start (a fresh interpreter importing torch each) and what they
    keep loaded (datasets, probe estimates) serve every sweep; closed by its owner."""

    def __init__(self, size: int, threads: int = 1) -> None:
        self.size, self.threads = size, threads
        self._pool: WorkerPool | None = None

    def get(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.size, self.threads)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> SharedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
