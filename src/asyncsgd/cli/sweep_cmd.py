"""``asyncsgd sweep``: run a grid of runs in parallel, resumably, into a results database."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from asyncsgd.errors import ConfigError

if TYPE_CHECKING:  # the command imports the sweep machinery only when it runs
    from asyncsgd.sweep.db import Outcome
    from asyncsgd.sweep.runner import SweepProgress
    from asyncsgd.sweep.spec import PlannedRun


def default_db(name: str) -> Path:
    return Path("runs") / f"{name}.db"


def describe_outcome(run: PlannedRun, outcome: Outcome, progress: SweepProgress) -> str:
    """One progress line for a finished run: count, status, seconds, label, and its error, or how
    it ended (a diverged model) and its test accuracy."""
    summary = outcome.summary or {}
    acc = summary.get("final_test_accuracy")
    if outcome.status == "failed":
        detail = outcome.error
    else:
        diverged = summary.get("stop_reason") == "diverged"
        detail = f"diverged at update {summary.get('updates')}, " if diverged else ""
        detail += f"test acc {100 * acc:.2f}%" if isinstance(acc, float) else ""
    done, total = sum(progress.finished.values()), progress.todo
    secs = outcome.finished - outcome.started
    count = f"[{done:>{len(str(total))}}/{total}]"
    return f"{count} {outcome.status:<11s} {secs:7.1f}s  {run.label}  {detail}".rstrip()


def check_tracker_files(runs: Iterable[PlannedRun]) -> None:
    """A tracker writing beside a run's files needs ``--traces``: refused when planning, before any
    run starts, rather than in each run's worker."""
    from asyncsgd.config.trackers import file_trackers

    for run in runs:
        if found := file_trackers(run.config):
            raise ConfigError(
                "loggers", f"{found[0]} (method {run.method!r}) writes beside each run's files, and this "
                "sweep keeps none: give --traces DIR",
            )  # fmt: skip


def sweep(args: argparse.Namespace) -> int:
    """Exit status: 0 every run done (those left to another sweep aside), 1 a run failed or
    stopped before its budget, 130 interrupted."""
    from asyncsgd.experiment.interrupt import graceful_stop

    with graceful_stop() as stop:  # from the start: set-up stops at once, writing nothing
        return _sweep(args, stop)


def _sweep(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from asyncsgd.experiment.interrupt import describe
    from asyncsgd.report.recipe import recipe_for
    from asyncsgd.sweep import ResultsDB, load_sweep, run_sweep
    from asyncsgd.sweep.runner import SweepAborted, plan

    spec = load_sweep(args.sweep, args.set)
    recipe_for(spec.document)  # a bad [report] table fails now, not after hours of runs
    if not args.traces:
        check_tracker_files(spec.runs)
    if args.workers < 0:
        raise ConfigError("--workers", f"must be >= 0, got {args.workers}")
    if args.threads < 1:
        raise ConfigError("--threads", f"must be >= 1, got {args.threads}")
    if not args.gpus >= 0 or (args.gpus and not args.ray):
        raise ConfigError("--gpus", f"must be >= 0, and is only for --ray, got {args.gpus}")
    db_path = Path(args.db) if args.db else default_db(spec.name)
    if args.dry_run:  # reads the database (read-only), creates none
        with ResultsDB(db_path, create=False, missing_ok=True) as db:
            todo, _ = plan(spec, db, not args.skip_failed)
            pending = {r.run_id for r in todo}
            status = db.statuses(r.run_id for r in spec.runs)
        for r in spec.runs:
            mark = "to run" if r.run_id in pending else status.get(r.run_id, "planned")
            print(f"{r.run_id}  {mark:<11s} {r.label}")
        print(f"{len(spec.unique_runs())} runs, {len(todo)} to run → {db_path}")
        return 0
    with ResultsDB(db_path) as db:
        quiet = args.quiet

        def listener(run, outcome, progress) -> None:  # type: ignore[no-untyped-def]
            if not quiet:
                print(describe_outcome(run, outcome, progress), flush=True)

        def on_start(progress) -> None:  # type: ignore[no-untyped-def]
            where = f"on {progress.workers} worker(s) " if progress.todo else ""
            print(
                f"sweep {spec.name}: {progress.planned} runs, {progress.skipped} done before, "
                f"{progress.todo} to run {where}→ {db_path}",
                flush=True,
            )

        start = time.time()
        try:
            progress = run_sweep(
                spec, db, workers=args.workers, threads=args.threads,
                traces=Path(args.traces) if args.traces else None,
                retry_failed=not args.skip_failed, stop=stop, listener=listener, on_start=on_start,
                ray=args.ray, gpus=args.gpus,
            )  # fmt: skip
        except SweepAborted as err:
            print(f"asyncsgd: error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as err:  # a second Ctrl-C: the runs in flight were killed
            print(f"aborted ({describe(err)}): runs in flight are marked interrupted; run the same command "
                  "to resume", file=sys.stderr)  # fmt: skip
            return 130
        counts = progress.finished
        shared = f", {progress.elsewhere} left to another sweep" if progress.elsewhere else ""
        print(
            f"sweep {spec.name}: {counts['done']} done, {counts['failed']} failed, "
            f"{counts['interrupted']} interrupted, {progress.left} not started{shared} "
            f"({progress.skipped} done before) in {time.time() - start:.1f}s"
        )
        print(f"report: asyncsgd report {db_path}")
        if progress.interrupted:
            print("interrupted: finished runs are recorded; run the same command to resume", file=sys.stderr)
            return 130
        return 1 if counts["failed"] else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a grid of runs in parallel into a results database (resumable)")
    p.add_argument("sweep", help="sweep TOML file: base settings, [grid], [[methods]], optional [report]")
    p.add_argument("--db", help="results database (default: runs/<name>.db)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default: 1)")
    p.add_argument(
        "--ray",
        default="",
        metavar="ADDRESS",
        help="run each run as a task on the Ray cluster at ADDRESS (host:port, or auto), reserving "
        "--threads CPUs and --gpus GPUs; --workers: most runs at a time (default: all that fit)",
    )
    p.add_argument("--gpus", type=float, default=0.0, help="with --ray: GPUs each run reserves (default: 0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting in every run (METHOD.KEY=VALUE: one method's runs)",
    )
    p.add_argument(
        "--traces", help="also write each run's trace.csv, metrics.csv, summary.json to DIR/<run id>/"
    )
    p.add_argument("--skip-failed", action="store_true", help="do not retry runs that failed before")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their status; run nothing")
    p.add_argument("--quiet", action="store_true", help="no line per finished run")
    p.set_defaults(func=sweep)
