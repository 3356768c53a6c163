"""Run a sweep: record its plan, skip finished runs, run the rest in parallel, record each outcome.

Resuming is the default: a run whose id is ``done`` in the database is never run again; planned,
failed and interrupted runs (and ``running`` ones left by a sweep that was killed) are run.
``stop()`` (Ctrl-C) stops handing out runs and asks the running ones to end after their current
update; they are recorded as ``interrupted`` with what they measured, and run again next time.

Each run is claimed in the database just before it is handed to a worker
(:meth:`~asyncsgd.sweep.db.ResultsDB.claim`): two sweeps of one database share its runs, and a
run another live sweep holds, or finished meanwhile, is left to it (counted as ``elsewhere``).
A run that replays another (:mod:`asyncsgd.sweep.replay`) is handed out once that one has finished.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asyncsgd.config import RunConfig
from asyncsgd.sweep.db import Outcome, ResultsDB
from asyncsgd.sweep.owner import Owner
from asyncsgd.sweep.pool import SharedPool, WorkerPool
from asyncsgd.sweep.raypool import RayPool
from asyncsgd.sweep.replay import recorded_pushes, source_of
from asyncsgd.sweep.spec import PlannedRun, Sweep
from asyncsgd.sweep.worker import Task

POLL_SECONDS = 0.2


class SweepAborted(RuntimeError):
    """The sweep cannot go on (its worker processes keep dying); ``str()`` is one line."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class SweepProgress:
    """Counts of a sweep execution, updated as outcomes arrive."""

    planned: int
    skipped: int
    todo: int
    workers: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False
    elsewhere: int = 0
    """Runs left to another sweep of the database: running there, or finished there meanwhile."""

    @property
    def left(self) -> int:
        return self.todo - sum(self.finished.values()) - self.elsewhere


Listener = Callable[[PlannedRun, Outcome, SweepProgress], None]


def plan(sweep: Sweep, db: ResultsDB, retry_failed: bool = True) -> tuple[list[PlannedRun], int]:
    """The runs still to do (plan order) and how many are done already; writes nothing."""
    unique = sweep.unique_runs()
    status = db.statuses(r.run_id for r in unique)
    skip = {"done"} | (set() if retry_failed else {"failed"})
    todo = [r for r in unique if status.get(r.run_id) not in skip]
    return todo, sum(1 for r in unique if status.get(r.run_id) == "done")


def task_config(config: RunConfig, side_by_side: int) -> dict:
    """A run's settings as its task carries them: with runs side by side, the simulator's default
    (``sim_workers = 0``) computes serially, since the runs already take the cores and its threads
    would only compete for them (the same results either way: the setting is no part of a run id)."""
    settings = config.to_dict()
    if side_by_side > 1 and settings.get("sim_workers", 0) == 0:
        settings["sim_workers"] = 1
    return settings


def run_sweep(
    sweep: Sweep,
    db: ResultsDB,
    *,
    workers: int = 0,
    threads: int = 1,
    traces: Path | None = None,
    retry_failed: bool = True,
    stop: Callable[[], bool] = lambda: False,
    listener: Listener | None = None,
    on_start: Callable[[SweepProgress], None] | None = None,
    ray: str = "",
    gpus: float = 0.0,
    shared: SharedPool | None = None,
) -> SweepProgress:
    """Run what is left of ``sweep`` on ``workers`` processes (0: one per available core), or,
    with ``ray`` (a cluster's address), as Ray tasks of ``threads`` CPUs and ``gpus`` GPUs each,
    ``workers`` of them at a time (0: as many as the cluster holds; :mod:`.raypool`);
    ``on_start`` sees the counts before anything runs, ``listener`` every outcome. With ``shared``,
    the runs go to its worker pool (at most ``workers`` at a time), which stays open for the next
    sweep."""
    db.save_sweep(sweep)
    todo, done_before = plan(sweep, db, retry_failed)
    progress = SweepProgress(len(sweep.unique_runs()), done_before, len(todo))
    progress.workers = min(workers or available_cores(), len(todo))
    pool: WorkerPool | RayPool | None = None
    if todo and ray:  # the cluster decides how many runs fit, so it is joined first
        pool = RayPool(ray, workers, threads, gpus, len(todo))
        progress.workers = pool.size
    try:
        if on_start is not None:
            on_start(progress)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    if not todo:
        return progress
    by_id = {r.run_id: r for r in todo}
    queue = deque(todo)
    me = Owner.me()
    sources = {r.run_id: src for r in todo if (src := source_of(r.config)) is not None}
    keep = set(sources) | set(sources.values())
    unfinished = set(by_id)  # runs of this execution without an outcome yet: their replays wait

    def claim_next() -> PlannedRun | None:
        for run in list(queue):
            if sources.get(run.run_id) in unfinished:
                continue
            queue.remove(run)
            got, _ = db.claim(run.run_id, me, retry_failed)
            if got == "claimed":
                return run
            progress.elsewhere += 1
            unfinished.discard(run.run_id)
        return None

    def finish(outcome: Outcome) -> None:
        db.record(outcome)
        unfinished.discard(outcome.run_id)
        progress.finished[outcome.status] += 1
        if listener is not None:
            listener(by_id[outcome.run_id], outcome, progress)

    def task(run: PlannedRun) -> Task | None:
        """The run's task; None when it replays a run whose pushes are not recorded (it fails)."""
        source, replayed = sources.get(run.run_id), ""
        if source is not None:
            done = db.statuses([source]).get(source) == "done"
            replayed = (recorded_pushes(db, source) if done else None) or ""
            if not replayed:
                now = time.time()
                why = (
                    "did not finish" if not done else "finished without its pushes (it was not replayed then)"
                )
                finish(
                    Outcome(run.run_id, "failed", now, now, error=f"trace: run {source} {why}; run it first")
                )
                return None
        out = str(traces / run.run_id) if traces is not None else ""
        config = task_config(run.config, progress.workers)
        return Task(run.run_id, run.method, config, out, run.run_id in keep, replayed, sweep.name)

    owned = pool is not None or shared is None
    if pool is None:
        pool = shared.get() if shared is not None else WorkerPool(progress.workers, threads)
    try:
        while queue or pool.busy():
            if stop() and not progress.interrupted:
                progress.interrupted = True
                pool.request_stop()
            if not progress.interrupted:
                for worker in pool.idle():
                    if len(pool.busy()) >= progress.workers:  # a shared pool may be larger
                        break
                    while (run := claim_next()) is not None and (job := task(run)) is None:
                        pass
                    if run is None:
                        break
                    pool.submit(worker, job)
            for outcome in pool.poll(POLL_SECONDS):
                finish(outcome)
                if pool.deaths_in_a_row > 2 * pool.size:
                    raise SweepAborted(
                        f"worker processes keep dying ({outcome.error}); see the run's traceback"
                    )
            if progress.interrupted and not pool.busy():
                break
    except BaseException:
        # a second Ctrl-C (or any error here): runs in flight (and any claimed, not yet handed
        # out) end unrecorded
        pool.kill()
        db.release(me)
        raise
    finally:
        if owned:
            pool.close()
    return progress
