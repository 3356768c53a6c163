"""The ``asyncsgd`` command line: one module per subcommand, each with ``add_parser(sub)``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from asyncsgd.cli import list_cmd, report_cmd, reproduce_cmd, run_cmd, sweep_cmd, theory_cmd
from asyncsgd.errors import ConfigError, EngineFailure
from asyncsgd.registry import UnknownName

COMMANDS = (run_cmd, list_cmd, theory_cmd, sweep_cmd, report_cmd, reproduce_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asyncsgd",
        description="Asynchronous parameter-server SGD: measure, control and cure staleness.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, UnknownName) as err:
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 2
    except EngineFailure as err:
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
