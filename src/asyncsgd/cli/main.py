"""The ``asyncsgd`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from asyncsgd.cli.progress import ProgressBars
from asyncsgd.cli.table import format_table
from asyncsgd.config import RunConfig, load_experiment
from asyncsgd.errors import ConfigError
from asyncsgd.registry import UnknownName


def _registries() -> dict[str, object]:
    from asyncsgd.codecs import CODECS
    from asyncsgd.data import DATASETS
    from asyncsgd.delays import DELAYS, STALENESS
    from asyncsgd.engines import ENGINES
    from asyncsgd.models import MODELS
    from asyncsgd.rules import OPTIMIZERS, REMEDIES

    return {
        "engines": ENGINES,
        "datasets": DATASETS,
        "models": MODELS,
        "codecs": CODECS,
        "rules": OPTIMIZERS,
        "remedies": REMEDIES,
        "delays": DELAYS,
        "staleness": STALENESS,
    }


def _default_out(name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{name}-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{name}-{stamp}-{n}"
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from asyncsgd.experiment.interrupt import graceful_stop
    from asyncsgd.experiment.runner import run_experiment

    only = [m.strip() for m in args.methods.split(",")] if args.methods else None
    exp = load_experiment(args.config, args.set, only=only)
    out = Path(args.out) if args.out else _default_out(exp.name)
    if out.exists() and any(out.iterdir()):
        raise ConfigError("--out", f"output directory {out} is not empty")
    bars = ProgressBars(False if args.quiet else None)
    with graceful_stop() as stop:
        try:
            result = run_experiment(exp, out, stop=stop, progress=bars)
        finally:
            bars.close()
    print(format_table([m.summary for m in result.methods]))
    print(f"\nresults: {out}/summary.json (per method: {out}/<method>/)")
    for plot in result.plots:
        print(f"plot:    {plot}")
    if result.interrupted:
        print("interrupted: partial results written", file=sys.stderr)
        return 130
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.kind == "settings":
        print(settings_markdown() if args.markdown else settings_text())
        return 0
    registries = _registries()
    kinds = [args.kind] if args.kind else list(registries)
    for kind in kinds:
        print(f"{kind}:")
        for entry in registries[kind]:  # type: ignore[attr-defined]
            print(f"  {entry.name:14s} {entry.summary}")
    return 0


def settings_text() -> str:
    defaults = RunConfig().to_dict()
    return "\n".join(f"{k:16s} {defaults[k]!s:12s} {text}" for k, text in RunConfig.help().items())


def settings_markdown() -> str:
    """The README's settings table, generated from the config schema."""
    defaults = RunConfig().to_dict()
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for key, text in RunConfig.help().items():
        value = defaults[key]
        shown = (
            f'"{value}"'
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool)
            else value
        )
        rows.append(f"| `{key}` | `{shown}` | {text.replace('|', '/')} |")
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asyncsgd", description="Asynchronous parameter-server SGD: measure, control and cure staleness."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment (the embedded default without CONFIG)")
    run.add_argument("config", nargs="?", help="experiment TOML file")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting in every method (METHOD.KEY=VALUE: one method)",
    )
    run.add_argument("--out", help="output directory (default: runs/<name>-<timestamp>)")
    run.add_argument("--methods", help="comma-separated subset of the experiment's methods")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)
    lst = sub.add_parser("list", help="list settings, or what a registry offers")
    lst.add_argument("kind", nargs="?", choices=[*_registries(), "settings"])
    lst.add_argument("--markdown", action="store_true", help="settings as a Markdown table")
    lst.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, UnknownName) as err:
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
