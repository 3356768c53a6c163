"""``asyncsgd reproduce``: run a published study's sweeps (resumably) and write its report."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncsgd.errors import ConfigError


def _plan(args: argparse.Namespace) -> Any:
    from asyncsgd.reproduce import Plan

    return Plan(_size(args), smoke=args.smoke)


def _size(args: argparse.Namespace) -> str:
    chosen = [size for size in ("quick", "standard", "full") if getattr(args, size)]
    if len(chosen) > 1:
        raise ConfigError(f"--{chosen[-1]}", "choose one of --quick, --standard and --full")
    return chosen[0] if chosen else "quick"


def _command(args: argparse.Namespace) -> str:
    """The command line as the report quotes it (paths of --db and --out left out)."""
    parts = ["asyncsgd reproduce", args.study, f"--{_size(args)}"]
    if args.smoke:
        parts.append("--smoke")
    if args.workers:
        parts.append(f"--workers {args.workers}")
    if args.threads != 1:
        parts.append(f"--threads {args.threads}")
    parts += [f"--set {s}" for s in args.set]
    return " ".join(parts)


def _check_counts(args: argparse.Namespace) -> None:
    if args.workers < 0:
        raise ConfigError("--workers", f"must be >= 0, got {args.workers}")
    if args.threads < 1:
        raise ConfigError("--threads", f"must be >= 1, got {args.threads}")


def reproduce(args: argparse.Namespace) -> int:
    """Exit status: 0 every run done and the report written, 1 a run failed or stopped before its
    budget, 130 interrupted (no report: ``--report-only`` writes it from what is there)."""
    from asyncsgd.experiment.interrupt import graceful_stop

    with graceful_stop() as stop:  # from the start: set-up (preflight) stops at once
        return _reproduce(args, stop)


def _reproduce(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from asyncsgd.cli.sweep_cmd import describe_outcome
    from asyncsgd.experiment.interrupt import describe
    from asyncsgd.reproduce import STUDIES, load_results, write_report
    from asyncsgd.reproduce.execute import pending, preflight, run_study
    from asyncsgd.reproduce.study import default_paths
    from asyncsgd.sweep import ResultsDB, Session
    from asyncsgd.sweep.runner import SweepAborted, available_cores

    plan = _plan(args)
    study = STUDIES.get(args.study)
    _check_counts(args)
    db_default, out_default = default_paths(study, plan)
    db_path = Path(args.db) if args.db else db_default
    out_dir = Path(args.out) if args.out else out_default
    if args.report_only:
        md, page = write_report(load_results(study, plan, db_path, out_dir))
        print(f"report: {md}\nreport: {page}")
        return 0
    sweeps = study.sweeps(plan, args.set)  # every bad setting fails here, before any run
    if not args.dry_run:
        preflight(sweeps)  # and a missing device or dataset
    if args.dry_run:  # reads the database (read-only), creates none
        with ResultsDB(db_path, create=False, missing_ok=True) as db:
            counts = pending(sweeps, db)
        for part, sweep, todo, done in counts:
            how = "one at a time" if part.exclusive else "in parallel"
            print(f"{sweep.name}: {len(sweep.unique_runs())} runs, {done} done, {todo} to run ({how}); "
                  f"definition {sweep.source}")  # fmt: skip
        print(f"database: {db_path}")
        return 0
    with ResultsDB(db_path) as db:
        quiet = args.quiet

        def on_part(part, sweep, progress) -> None:  # type: ignore[no-untyped-def]
            where = f"on {progress.workers} worker(s) " if progress.todo else ""
            print(f"{sweep.name}: {progress.planned} runs, {progress.skipped} done before, "
                  f"{progress.todo} to run {where}→ {db_path}", flush=True)  # fmt: skip

        def listener(run, outcome, progress) -> None:  # type: ignore[no-untyped-def]
            if not quiet:
                print(describe_outcome(run, outcome, progress), flush=True)

        runs = {r.run_id for _, sweep in sweeps for r in sweep.unique_runs()}
        before = sum(1 for s in db.statuses(runs).values() if s == "done")  # parts may share runs
        started, load_before = time.time(), os.getloadavg()
        parts: list[Any] = []
        try:
            parts = run_study(study, sweeps, db, workers=args.workers, threads=args.threads, stop=stop,
                              listener=listener, on_part=on_part)  # fmt: skip
        except SweepAborted as err:
            print(f"asyncsgd: error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as err:
            print(f"aborted ({describe(err)}): runs in flight are marked interrupted; run the same command "
                  "to resume", file=sys.stderr)  # fmt: skip
            return 130
        interrupted = stop()
        progress = [p.progress for p in parts if p.progress is not None]
        ran = sum(sum(p.finished.values()) for p in progress)
        failed = sum(p.finished["failed"] for p in progress)
        if ran or interrupted:  # a session that found everything done measured nothing
            db.record_session(
                Session(study.label(plan), _command(args), started, time.time(),
                        max([p.workers for p in progress] or [0]), available_cores(), load_before,
                        os.getloadavg(), ran, before, interrupted)
            )  # fmt: skip
    wall = time.time() - started
    print(f"{study.name} {plan.label}: {ran} run(s) ({failed} failed), {before} done before, "
          f"sweeps took {wall:.1f}s")  # fmt: skip
    if interrupted:
        print("interrupted: finished runs are recorded; run the same command to resume "
              "(--report-only writes the report from what is there)", file=sys.stderr)  # fmt: skip
        return 130
    md, page = write_report(load_results(study, plan, db_path, out_dir))
    print(f"report: {md}\nreport: {page}")
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce", help="run a published study's sweeps (resumable) and write its report with figures"
    )
    p.add_argument("study", help="study to reproduce (see `asyncsgd list studies`)")
    p.add_argument("--quick", action="store_true", help="small data and models, minutes on 2 cores (default)")
    p.add_argument(
        "--standard",
        action="store_true",
        help="the committed reports' scale: more seeds and updates, up to 90 minutes on 2 cores, resumable",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="the published setting's scale (CIFAR-10, 20 Newsgroups), for a bigger machine",
    )
    p.add_argument(
        "--smoke", action="store_true",
        help="a miniature of the plan (2 values per grid axis, a few updates): checks the pipeline",
    )  # fmt: skip
    p.add_argument("--out", help="report directory (default: runs/reproduce/<study>-<size>/)")
    p.add_argument("--db", help="results database (default: runs/reproduce/<study>-<size>.db)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default: 1)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting in every run (METHOD.KEY=VALUE: that method's runs), e.g. device=cuda",
    )  # fmt: skip
    p.add_argument(
        "--report-only", action="store_true", help="write the report from the database; run nothing"
    )
    p.add_argument("--dry-run", action="store_true", help="count the runs left in each part; run nothing")
    p.add_argument("--quiet", action="store_true", help="no line per finished run")
    p.set_defaults(func=reproduce)
