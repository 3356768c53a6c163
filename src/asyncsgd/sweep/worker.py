"""One sweep run inside a worker process: settings in, an :class:`Outcome` out, never an exception.

A run goes through exactly what ``asyncsgd run`` does for one method (``Job.from_config`` then
``run_job``), so a sweep's numbers are those of a single run with the same settings.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

import torch

from asyncsgd.assembly.checks import effective_config
from asyncsgd.assembly.datasets import dataset_key, load_config_dataset
from asyncsgd.assembly.job import Job
from asyncsgd.config.schema import RunConfig
from asyncsgd.data.base import Dataset
from asyncsgd.errors import ConfigError
from asyncsgd.experiment.runner import run_job
from asyncsgd.metrics import FINISHED
from asyncsgd.sweep.db import Outcome
from asyncsgd.sweep.replay import read_pushes, replay_paths

STOP_POLL_EVERY = 16
"""Pushes between two looks at the shared stop flag (a look costs a lock)."""
PARENT_POLL_SECONDS = 2.0
"""How often an idle worker checks that the sweep's process is still alive."""


@dataclass(frozen=True)
class Task:
    run_id: str
    method: str
    config: dict[str, Any]
    out_dir: str = ""
    """Where to write the run's trace.csv, metrics.csv and summary.json ("" writes nothing)."""
    keep_pushes: bool = False
    """Return the run's pushes in the outcome (a replay, or a run one replays)."""
    replayed: str = ""
    """The pushes of the run this one replays (``trace = "run:ID"``), as :func:`read_pushes` gives them."""
    experiment: str = "asyncsgd"
    """The experiment its trackers file it under (the sweep's name; MLflow's experiment)."""


def one_line(err: BaseException) -> str:
    """The error as one line: a ConfigError as it is, anything else prefixed with its type."""
    text = str(err) if isinstance(err, ConfigError) else f"{type(err).__name__}: {err}"
    first = text.strip().splitlines()
    return first[0] if first else type(err).__name__


class ThrottledStop:
    """``stop()`` that reads ``flag`` only every ``every`` calls."""

    def __init__(self, flag: Callable[[], bool], every: int = STOP_POLL_EVERY) -> None:
        self.flag = flag
        self.every = every
        self.calls = 0
        self.stopped = False

    def __call__(self) -> bool:
        self.calls += 1
        if not self.stopped and self.calls % self.every == 0:
            self.stopped = self.flag()
        return self.stopped


@dataclass
class Reuse:
    """What a worker process keeps from one run to the next: the last dataset it loaded (a sweep's
    runs come in plan order, so neighbours usually share it) and the constants ``lr = "auto"``
    measured on it. Only one dataset is kept, so memory stays that of one run; the estimates go
    with it (they are keyed by the dataset object)."""

    key: tuple | None = None
    dataset: Dataset | None = None
    estimates: dict = field(default_factory=dict)

    def dataset_for(self, cfg: RunConfig) -> Dataset:
        key = dataset_key(effective_config(cfg))
        if key != self.key or self.dataset is None:
            self.key, self.dataset, self.estimates = None, None, {}
            self.dataset = load_config_dataset(effective_config(cfg))
            self.key = key
        return self.dataset


def outcome_status(summary: dict[str, Any]) -> tuple[str, str]:
    """A finished run's status and error: ``done`` when it ran its whole budget or its model
    diverged (a result of its settings, ``stop_reason`` says which); one that stopped otherwise
    (stalled, learners lost) is ``failed``, its measurements kept, and is run again by the next
    sweep unless ``--skip-failed``."""
    if summary.get("interrupted"):
        return "interrupted", ""
    reason = summary.get("stop_reason", "budget")
    if reason in FINISHED:
        return "done", ""
    return "failed", f"stopped before its budget: {reason} after {summary.get('updates')} updates"


def execute(task: Task, stop: Callable[[], bool] = lambda: False, reuse: Reuse | None = None) -> Outcome:
    """Run ``task``; failures become a ``failed`` outcome with a one-line error and the traceback.
    With ``reuse``, the dataset and probe estimates of earlier runs in this process are reused: the
    run is the same, bit for bit, as one that loads and measures them afresh."""
    started = time.time()
    try:
        cfg = RunConfig.from_dict(task.config)
        with replay_paths(cfg, task.out_dir, task.keep_pushes, task.replayed) as (cfg, out):
            if reuse is None:
                job = Job.from_config(cfg, name=task.method)
            else:
                job = Job.from_config(
                    cfg, name=task.method, dataset=reuse.dataset_for(cfg), estimates=reuse.estimates
                )
            result = run_job(job, out, stop, experiment=task.experiment)
            pushes = read_pushes(out / "trace.csv") if task.keep_pushes and out is not None else ""
        status, error = outcome_status(result.summary)
        return Outcome(
            task.run_id, status, started, time.time(), result.summary, result.metrics, error, pushes=pushes
        )
    except Exception as err:
        return Outcome(
            task.run_id, "failed", started, time.time(), error=one_line(err), traceback=traceback.format_exc()
        )


def _next_task(inbox: Any) -> Task | None:
    """The next task, or None when told to exit or when the sweep's process is gone (a worker
    is not daemonic, so nothing else would end it if its parent were killed)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            return inbox.get(timeout=PARENT_POLL_SECONDS)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None


def worker_main(worker: int, inbox: Any, outbox: Any, stop_flag: Event, threads: int) -> None:
    """Process entry: run tasks from ``inbox`` until ``None``; Ctrl-C is left to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()

    def stop() -> bool:
        # asked to, or the sweep is gone (killed): its run is another sweep's to redo, so this
        # copy ends within a few pushes rather than run on beside the new one
        return stop_flag.is_set() or (parent is not None and not parent.is_alive())

    reuse = Reuse()
    while (task := _next_task(inbox)) is not None:
        torch.set_num_threads(threads)  # a run's own `threads` setting must not outlive it
        outcome = execute(task, ThrottledStop(stop), reuse)
        if parent is not None and not parent.is_alive():
            return  # nobody reads the outcome
        outbox.put((worker, outcome))
