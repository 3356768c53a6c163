"""Run a study's sweeps into a results database, part after part, resumably.

Each part is an ordinary sweep (:func:`asyncsgd.sweep.run_sweep`): runs already ``done`` in the
database are skipped, and a stop request (Ctrl-C) ends the part in progress after its running
updates and skips the parts after it; what finished is kept. A part that measures wall-clock time
(:attr:`Part.exclusive`) runs on one worker, so its runs never share the cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asyncsgd.reproduce.study import Part, Study
from asyncsgd.sweep import ResultsDB, SweepProgress, run_sweep
from asyncsgd.sweep.pool import SharedPool
from asyncsgd.sweep.runner import Listener, available_cores, plan
from asyncsgd.sweep.spec import Sweep


@dataclass
class PartProgress:
    part: Part
    sweep: Sweep
    progress: SweepProgress | None = None
    """None when the part was not started (an earlier one was interrupted)."""


def preflight(sweeps: Sequence[tuple[Part, Sweep]]) -> None:
    """Fail before any run, with one line, on what would fail every run: a ``device`` this machine
    does not have, or a dataset that cannot be read (a missing or corrupted CIFAR-10 copy). Each
    distinct device and dataset is checked once; engines whose learners run elsewhere (a cluster)
    are left to their own checks."""
    from asyncsgd.assembly.checks import check_device
    from asyncsgd.assembly.datasets import dataset_key, load_config_dataset
    from asyncsgd.assembly.engines import ENGINES

    devices, datasets = set(), set()
    for _, sweep in sweeps:
        for run in sweep.unique_runs():
            cfg = run.config
            if ENGINES.get(cfg.engine).learners_here and cfg.device not in devices:
                check_device(cfg.device)
                devices.add(cfg.device)
            if dataset_key(cfg) not in datasets:
                load_config_dataset(cfg)
                datasets.add(dataset_key(cfg))


def pending(sweeps: Sequence[tuple[Part, Sweep]], db: ResultsDB) -> list[tuple[Part, Sweep, int, int]]:
    """Per part: runs still to do and runs already done (writes nothing)."""
    out = []
    for part, sweep in sweeps:
        todo, done = plan(sweep, db)
        out.append((part, sweep, len(todo), done))
    return out


def run_study(
    study: Study,
    sweeps: Sequence[tuple[Part, Sweep]],
    db: ResultsDB,
    *,
    workers: int = 0,
    threads: int = 1,
    stop: Callable[[], bool] = lambda: False,
    listener: Listener | None = None,
    on_part: Callable[[Part, Sweep, SweepProgress], None] | None = None,
) -> list[PartProgress]:
    """Run what is left of every part; ``on_part`` sees each part's counts before it runs. The parts
    share one pool of worker processes (started with the first run to do)."""
    done: list[PartProgress] = []
    with SharedPool(workers or available_cores(), threads) as shared:
        for part, sweep in sweeps:
            entry = PartProgress(part, sweep)
            done.append(entry)
            if stop():
                continue

            def started(progress: SweepProgress, part: Part = part, sweep: Sweep = sweep) -> None:
                if on_part is not None:
                    on_part(part, sweep, progress)

            entry.progress = run_sweep(
                sweep, db, workers=1 if part.exclusive else workers, threads=threads, stop=stop,
                listener=listener, on_start=started, shared=shared,
            )  # fmt: skip
    return done
