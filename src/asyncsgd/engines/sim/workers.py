"""Gradient workers of the simulator: the learners' compute off the event loop, in the same order.

A learner's work between two events is a pure function of what it holds (its memory, local point,
codec generator), the parameters it pulled and its batches. So the event loop does everything that
draws from a shared stream (batches, delays, the server's state, the rules' pull hooks) in its own
order, and hands the rest, copied parameters included, to a worker thread; it waits for the result
only when an event needs it (the apply of the push, or its arrival time on a finite link). Each
learner's tasks run in the order they were handed out (a task waits for the learner's previous
one), and every worker computes on a model of its own: the same function on the same inputs, so
any number of workers gives the same bits.

The threads are the run's: :meth:`Workers.close` cancels what has not started and joins them,
also when a learner raised. Torch operations release the interpreter lock, so threads overlap the
passes; each pass runs on the run's own intra-op thread count.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.vocabulary.flat import FlatLayout, FlatModel

T = TypeVar("T")

AUTO_MIN_PARAMETERS = 20_000
"""``sim_workers = 0`` computes serially below this many parameters, where a pass costs little more
than handing it to a thread and copying its parameters. A cautious guess: the smallest model timed,
the 101,770-parameter MLP with batch 32, gained only to 0.83 of serial (benchmarks/sim_parallel.py)."""


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def auto_workers(setting: int, learners: int, parameters: int, free: int | None = None) -> int:
    """The worker count a run uses: ``setting`` when given (at most one per learner); else, for a
    model worth a thread, one per ``free`` core (default: the cores over the intra-op threads each
    pass already uses, so the passes do not oversubscribe them), at most one per learner; else 1."""
    if setting:
        return max(1, min(setting, learners))
    if parameters < AUTO_MIN_PARAMETERS:
        return 1
    if free is None:
        free = cores() // max(1, torch.get_num_threads())
    return max(1, min(free, learners))


class Done(Generic[T]):
    """A result computed on the spot (the serial path): the face of a future, without a thread."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def result(self) -> T:
        return self.value


class ThreadModels:
    """What a learner computes with: the model of the thread that runs it (a worker's own, or the
    event loop's). It has the face of a :class:`FlatModel` that learners' gradient functions use."""

    def __init__(self, main: FlatModel) -> None:
        self.main = main
        self.layout: FlatLayout = main.layout
        self.params = main.params  # the initial point, for learners that copy it
        self._local = threading.local()

    def bind(self, flat: FlatModel) -> None:
        self._local.flat = flat

    def current(self) -> FlatModel:
        return getattr(self._local, "flat", self.main)

    def gradient(self, x: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return self.current().gradient(x, inputs, targets)

    @property
    def grads(self) -> torch.Tensor:
        return self.current().grads


class Task(Generic[T]):
    """A learner's work handed out: computed by the first thread that gets to it, a worker taking
    it from the queue or the event loop (see :meth:`Workers.result`). It runs after ``before``, the
    learner's previous task."""

    __slots__ = ("_before", "_done", "_error", "_lock", "_thunk", "_value")

    def __init__(self, thunk: Callable[[], T], before: Task | None = None) -> None:
        self._thunk: Callable[[], T] | None = thunk
        self._before = before
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._done

    def ready(self) -> bool:
        """Not started, and nothing to wait for: the learner's previous task is done."""
        return not self._done and not self._lock.locked() and (self._before is None or self._before._done)

    def _compute(self) -> None:
        """Run the work unless done (the caller holds the lock)."""
        if not self._done:
            try:
                if self._before is not None:
                    self._before.result()
                assert self._thunk is not None
                self._value = self._thunk()
            except BaseException as error:  # handed to whoever asks for the result
                self._error = error
            self._done, self._thunk, self._before = True, None, None

    def attempt(self) -> bool:
        """Compute it here unless another thread is at it; True when it is done now."""
        if self._lock.acquire(blocking=False):
            try:
                self._compute()
            finally:
                self._lock.release()
        return self._done

    def result(self) -> T:
        with self._lock:  # waits while another thread computes it; computes it here if none has
            self._compute()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class Workers:
    """``count`` threads computing the learners' work (1: none, every task runs on the spot): the
    event loop's own and ``count − 1`` workers, each with a model of its own.

    ``submit(i, fn)`` runs ``fn`` after learner ``i``'s previous task; ``result(task)`` is where the
    event loop waits for one, computing meanwhile what no thread has started; ``snapshot(i, x)`` is
    where learner ``i``'s pulled parameters wait while its task is in flight (``x`` itself when
    serial)."""

    def __init__(self, job: Job, models: ThreadModels, count: int, learners: int) -> None:
        self.parallel = count > 1
        self._tails: list[Task | None] = [None] * learners
        self._snapshots: list[torch.Tensor | None] = [None] * learners
        self._flying: list[Task] = []  # handed out, in order, not yet known to be done
        self._pool: ThreadPoolExecutor | None = None
        if self.parallel:
            # the loop computes too, on a model of its own: its thread's default model is the one
            # whose buffer the server may share
            models.bind(job.flat_model())
            free: queue.SimpleQueue[FlatModel] = queue.SimpleQueue()
            for _ in range(count - 1):
                free.put(job.flat_model())
            self._pool = ThreadPoolExecutor(
                count - 1, "asyncsgd-sim", initializer=lambda: models.bind(free.get_nowait())
            )

    def snapshot(self, i: int, x: torch.Tensor) -> torch.Tensor:
        if not self.parallel:
            return x
        buf = self._snapshots[i]
        if buf is None:
            buf = self._snapshots[i] = torch.empty_like(x)
        return buf.copy_(x)

    def submit(self, i: int, fn: Callable[[], T]) -> Task[T] | Done[T]:
        if self._pool is None:
            return Done(fn())
        task = Task(fn, self._tails[i])
        self._tails[i] = task
        self._flying = [t for t in self._flying if not t.done]
        self._flying.append(task)
        self._pool.submit(task.attempt)
        return task

    def result(self, task: Task[T] | Done[T]) -> T:
        """``task``'s result, for the event loop: while a worker computes it, the loop computes the
        oldest task that no thread has started and whose learner has nothing else in flight, rather
        than wait (a synchronous round, or a push the workers took first, keeps both busy). Such a
        task never waits on another, so the loop never holds one task while waiting for a second."""
        if isinstance(task, Task):
            while not task.attempt():
                other = next((t for t in self._flying if t.ready()), None)
                if other is None:
                    break
                other.attempt()
        return task.result()

    def close(self) -> None:
        """Cancel the tasks not started and join the threads (after an error too)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
