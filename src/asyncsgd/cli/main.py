"""The ``asyncsgd`` command line: one module per subcommand, each with ``add_parser(sub)``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from asyncsgd.cli import list_cmd, report_cmd, reproduce_cmd, run_cmd, sweep_cmd, theory_cmd
from asyncsgd.config.legacy import DeprecatedSetting
from asyncsgd.errors import ConfigError, EngineFailure
from asyncsgd.experiment.interrupt import describe
from asyncsgd.registry import UnknownName

COMMANDS = (run_cmd, list_cmd, theory_cmd, sweep_cmd, report_cmd, reproduce_cmd)

EXIT_STATUS = {
    0: "done: every run finished its budget or diverged (run), every run of the sweep is done (sweep, "
    "reproduce)",
    1: "not done: a run stopped before its budget (stalled, learners lost, every learner timed out), "
    "a sweep run failed, the engine failed, or a result could not be written",
    2: "bad input (one line naming the culprit); nothing was run",
    130: "interrupted (Ctrl-C or SIGTERM): what was measured is written, a rerun (or --resume) goes on",
}
"""What each exit status of ``asyncsgd`` means (the README's command line section lists them)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line, like every other bad input (argparse prints the usage
    too, and exits from inside the parser)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2] or "arguments"
        raise ConfigError(command, f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="asyncsgd",
        description="Asynchronous parameter-server SGD: measure, control and cure staleness.",
        epilog="exit status: " + "; ".join(f"{c} {t.split(':')[0]}" for c, t in EXIT_STATUS.items()),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def one_line(message: Warning | str, category: type[Warning], *where: Any, **more: Any) -> None:
            """A deprecated setting as one line on stderr (no source line, no file position)."""
            if issubclass(category, DeprecatedSetting):
                print(f"asyncsgd: warning: {message}", file=sys.stderr)
            else:
                shown(message, category, *where, **more)

        warnings.simplefilter("default", DeprecatedSetting)
        warnings.showwarning = one_line
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except (ConfigError, UnknownName) as err:
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 2
    except (EngineFailure, OSError) as err:  # OSError: a result that cannot be written (disk full, ...)
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # a signal during set-up, or a second Ctrl-C
        print(f"asyncsgd: interrupted ({describe(err)})", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
