"""``asyncsgd run``: run an experiment (the embedded default without a file)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from asyncsgd.errors import ConfigError


def default_out(name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{name}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{name}-{stamp}-{n}"
    return out


def claim_out(out: Path) -> list[Path]:
    """Make the run directory ``out`` (and missing parents) before any work, so an unusable
    ``--out`` fails first, in one line; returns the directories made, for :func:`release`."""
    try:
        if out.is_dir():
            if any(out.iterdir()):
                raise ConfigError("--out", f"output directory {out} is not empty")
            if not os.access(out, os.W_OK | os.X_OK):
                raise ConfigError("--out", f"cannot write in {out} (permission denied or read-only)")
            return []
        if out.exists() or out.is_symlink():
            raise ConfigError("--out", f"{out} exists and is not a directory")
        missing = [out]
        for parent in out.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError("--out", f"{parent} is a file, so {out} cannot be made under it")
                break
            missing.append(parent)
    except (OSError, ValueError) as err:  # a name too long, a NUL byte, an unreadable directory
        raise ConfigError("--out", f"cannot use {out} ({getattr(err, 'strerror', None) or err})") from None
    created: list[Path] = []
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except (OSError, ValueError) as err:
            release(created)
            why = getattr(err, "strerror", None) or err
            raise ConfigError("--out", f"cannot create {directory} ({why})") from None
        created.append(directory)
    return created


def release(created: list[Path]) -> None:
    """Remove the directories :func:`claim_out` made, deepest first, where a failed run left
    them empty (a run that wrote something keeps it)."""
    for directory in reversed(created):
        try:
            directory.rmdir()
        except OSError:
            return


def run(args: argparse.Namespace) -> int:
    """Exit status: 0 every method finished its budget or diverged, 1 one did not (see ``EXIT_STATUS`` in
    :mod:`asyncsgd.cli.main`), 130 interrupted."""
    from asyncsgd.experiment.interrupt import graceful_stop

    if args.help_settings:
        from asyncsgd.cli.list_cmd import settings_text

        print(settings_text())
        return 0
    with graceful_stop() as stop:  # from the start: set-up stops at once, writing nothing
        return _run(args, stop)


def _run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    from asyncsgd.cli.table import format_table
    from asyncsgd.config import load_experiment
    from asyncsgd.experiment.interrupt import describe
    from asyncsgd.experiment.progress import Progress
    from asyncsgd.experiment.runner import run_experiment

    only = [m.strip() for m in args.methods.split(",")] if args.methods is not None else None
    if args.resume:
        out = Path(args.resume)
        confirming = all(item.startswith("ray_address=") for item in args.set)
        if args.config or args.out or not confirming:
            raise ConfigError(
                "--resume", "takes the run directory alone (its config.toml is the experiment; "
                "--set ray_address=ADDR only confirms the cluster it joins)",
            )  # fmt: skip
        if not (out / "config.toml").is_file():
            raise ConfigError("--resume", f"{out} is not a run directory (no config.toml)")
        exp = load_experiment(out / "config.toml", args.set, only=only)
    else:
        exp = load_experiment(args.config, args.set, only=only)
        out = Path(args.out) if args.out else default_out(exp.name)
    created = [] if args.resume else claim_out(out)
    bars = Progress(False if args.quiet else None, to_stderr=True)
    written = (out / "summary.json").stat().st_mtime_ns if (out / "summary.json").exists() else None
    try:
        result = run_experiment(exp, out, stop=stop, progress=bars, resume=bool(args.resume))
    except KeyboardInterrupt as err:
        bars.close()
        release(created)
        summary = out / "summary.json"
        now = summary.stat().st_mtime_ns if summary.exists() else None
        kept = f"what was measured is in {summary}" if now != written else "nothing written"
        print(f"asyncsgd: interrupted ({describe(err)}): {kept}", file=sys.stderr)
        return 130
    except BaseException:
        release(created)
        raise
    finally:
        bars.close()
    print(format_table([m.summary for m in result.methods]))
    print(f"\nresults: {out}/summary.json (per method: {out}/<method>/)")
    for plot in result.plots:
        print(f"plot:    {plot}")
    if result.interrupted:
        print("interrupted: partial results written", file=sys.stderr)
        return 130
    for name, updates in result.diverged.items():
        print(f"asyncsgd: {name} diverged at update {updates} (its pushes NaN/Inf); see {out}/{name}/",
              file=sys.stderr)  # fmt: skip
    if result.unfinished:
        cut = ", ".join(f"{name} ({reason})" for name, reason in result.unfinished.items())
        print(f"asyncsgd: not finished: {cut} stopped before its budget; see {out}/summary.json",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an experiment (the embedded default without CONFIG)")
    p.add_argument("config", nargs="?", help="experiment TOML file")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting in every method (METHOD.KEY=VALUE: one method)",
    )
    p.add_argument("--out", help="output directory (default: runs/<name>-<timestamp>)")
    p.add_argument("--methods", help="comma-separated subset of the experiment's methods")
    p.add_argument("--quiet", action="store_true", help="no progress bars or progress lines")
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run: finished methods are kept, checkpointed ones continue",
    )
    p.add_argument(
        "--help-settings",
        action="store_true",
        help="list every setting (default, range, what takes it) and exit",
    )
    p.set_defaults(func=run)
