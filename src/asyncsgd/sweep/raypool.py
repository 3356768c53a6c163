"""Sweep runs as Ray tasks on a cluster (``asyncsgd sweep --ray ADDRESS``): the worker pool's
interface, so the sweep's driver loop, its SQLite database and its resumption are the same.

Each run is one Ray task reserving its own ``threads`` CPUs (and ``gpus`` GPUs), named
``asyncsgd-run-<run id>``. Nodes need not share a filesystem: a task runs into a scratch folder
of its node and returns its :class:`~asyncsgd.sweep.db.Outcome` together with the files the run
wrote there (``--traces``: trace.csv, metrics.csv, summary.json, a tracker's files); the driver,
the only process that touches the database or the traces folder, records the one and writes the
others. A task lost with its worker process or its node is run again by Ray up to ``RETRIES``
times (a run is deterministic: a retry gives the same result); after that the driver records the
run as failed with Ray's one-line reason. A stop request (Ctrl-C) raises a flag, held by a
zero-CPU actor, that each run reads at most every ``STOP_POLL_SECONDS``: runs in flight end after
their current update and are recorded as ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from asyncsgd.engines.ray.cluster import connect, import_ray
from asyncsgd.engines.ray.faults import first_line
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.db import Outcome
from asyncsgd.sweep.worker import Task, execute

RETRIES = 2
"""Times Ray runs a task again whose worker process or node died."""
STOP_POLL_SECONDS = 0.5
JOIN_TIMEOUT = 60.0
"""Seconds to reach the cluster."""


class StopFlag:
    """A Ray actor: the sweep's stop request, read by its runs."""

    def __init__(self) -> None:
        self.stopped = False

    def set(self) -> None:
        self.stopped = True

    def get(self) -> bool:
        return self.stopped


class PolledFlag:
    """``stop()`` for a run: asks the flag actor at most every ``STOP_POLL_SECONDS`` (a call costs
    a millisecond, a push of a small model a tenth of that)."""

    def __init__(self, flag: Any) -> None:
        self.flag = flag
        self.next = time.monotonic() + STOP_POLL_SECONDS
        self.stopped = False

    def __call__(self) -> bool:
        if not self.stopped and time.monotonic() >= self.next:
            ray = import_ray()
            try:
                self.stopped = bool(ray.get(self.flag.get.remote(), timeout=10))
            except ray.exceptions.RayError:  # the sweep's driver is gone: its runs are redone
                self.stopped = True
            self.next = time.monotonic() + STOP_POLL_SECONDS
        return self.stopped


def run_task(task: Task, threads: int, flag: Any) -> tuple[Outcome, dict[str, bytes]]:
    """In a Ray worker: the run, written (if at all) into a scratch folder of this node, and the
    files it wrote there, by path relative to the run's folder."""
    import torch

    torch.set_num_threads(threads)  # a run's own `threads` setting must not outlive it
    with tempfile.TemporaryDirectory(prefix="asyncsgd-sweep-") as tmp:
        here = Path(tmp) / "run"
        local = dataclasses.replace(task, out_dir=str(here)) if task.out_dir else task
        outcome = execute(local, PolledFlag(flag))
        files = {}
        if task.out_dir and here.is_dir():
            files = {str(p.relative_to(here)): p.read_bytes() for p in sorted(here.rglob("*")) if p.is_file()}
    return outcome, files


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write what a task shipped back into the run's ``folder``; a name that would land outside it
    (absolute, or climbing with ``..``) is refused in one line, before anything is written."""
    root = folder.resolve()
    paths = {}
    for name, data in files.items():
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"a run's task sent back the file {name!r}, outside its folder {folder}")
        paths[path] = data
    for path, data in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclasses.dataclass
class _Flight:
    ref: Any
    task: Task
    since: float


class RayPool:
    """Up to ``size`` runs in flight on the Ray cluster at ``address`` (0: as many as its CPUs
    and GPUs hold at ``threads`` CPUs and ``gpus`` GPUs per run), never more than ``most``."""

    def __init__(self, address: str, size: int, threads: int, gpus: float, most: int) -> None:
        if not address:
            raise ConfigError("--ray", "give the address of a running Ray cluster (host:port, or auto)")
        self._stack = ExitStack()
        try:
            cluster = self._stack.enter_context(connect(address, 0, JOIN_TIMEOUT))
        except ConfigError as err:  # named after the engine's setting: say the option
            raise ConfigError("--ray", err.message) from None
        try:
            ray = self.ray = import_ray()
            cpus, have_gpus = cluster.resources.get("CPU", 0.0), cluster.resources.get("GPU", 0.0)
            fits = int(cpus // threads) if gpus <= 0 else int(min(cpus // threads, have_gpus // gpus))
            if fits < 1:
                raise ConfigError("--ray", f"a run needs {threads} CPUs and {gpus:g} GPUs; the cluster has "
                                  f"{cpus:g} CPUs and {have_gpus:g} GPUs")  # fmt: skip
            self.size = max(1, min(size or fits, most))
            self._remote = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=RETRIES)(run_task)
            self._flag = ray.remote(num_cpus=0)(StopFlag).remote()
        except BaseException:
            self._stack.close()
            raise
        self._threads = threads
        self._slots: list[_Flight | None] = [None] * self.size
        self.deaths_in_a_row = 0
        """Tasks lost (after their retries) since the last run a task delivered."""

    def idle(self) -> list[int]:
        return [i for i, s in enumerate(self._slots) if s is None]

    def busy(self) -> list[Task]:
        return [s.task for s in self._slots if s is not None]

    def submit(self, worker: int, task: Task) -> None:
        if self._slots[worker] is not None:
            raise RuntimeError(f"slot {worker} is busy")
        ref = self._remote.options(name=f"asyncsgd-run-{task.run_id}").remote(task, self._threads, self._flag)
        self._slots[worker] = _Flight(ref, task, time.time())

    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes of the tasks that ended within ``timeout`` seconds (a lost one: ``failed``)."""
        ray = self.ray
        flights = {s.ref: (i, s) for i, s in enumerate(self._slots) if s is not None}
        if not flights:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(list(flights), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(flights), num_returns=len(flights), timeout=0)
        out = []
        for ref in ready:
            i, flight = flights[ref]
            self._slots[i] = None
            try:
                outcome, files = ray.get(ref)
            except ray.exceptions.RayError as err:
                self.deaths_in_a_row += 1
                why = f"Ray task lost after {RETRIES} retries: {first_line(err)}"
                out.append(Outcome(flight.task.run_id, "failed", flight.since, time.time(), error=why))
                continue
            self.deaths_in_a_row = 0
            if flight.task.out_dir:
                try:
                    write_files(Path(flight.task.out_dir), files)
                except ValueError as err:
                    outcome = dataclasses.replace(outcome, status="failed", error=str(err))
            out.append(outcome)
        return out

    def request_stop(self) -> None:
        self._flag.set.remote()

    def close(self) -> None:
        """Wait briefly for runs told to stop, cancel what is left, leave the cluster."""
        try:
            self.kill()
        finally:
            self._stack.close()

    def kill(self) -> None:
        for flight in self._slots:
            if flight is not None:
                with suppress(Exception):  # already ended, or its node is gone
                    self.ray.cancel(flight.ref, force=True)
        self._slots = [None] * self.size
