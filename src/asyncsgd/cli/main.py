"""The ``asyncsgd`` command line: one module per subcommand, each with ``add_parser(sub)``.

The command modules import the floors below only inside the functions that run a command, so
``asyncsgd --help``, ``asyncsgd CMD --help`` and ``asyncsgd list`` never load torch.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from asyncsgd.cli import list_cmd, report_cmd, reproduce_cmd, run_cmd, sweep_cmd, theory_cmd
from asyncsgd.errors import ConfigError, EngineFailure
from asyncsgd.registry import UnknownName

COMMANDS = (run_cmd, list_cmd, theory_cmd, sweep_cmd, report_cmd, reproduce_cmd)

EXIT_STATUS = {
    0: "done: every run finished its budget or diverged (run), every run of the sweep is done (sweep, "
    "reproduce)",
    1: "not done: a run stopped before its budget (stalled, learners lost, every learner timed out), "
    "a sweep run failed, the engine failed, or a result could not be written",
    2: "bad input (one line naming the culprit); nothing was run",
    130: "interrupted (Ctrl-C or SIGTERM): what was measured is written, a rerun (or --resume) goes on",
    141: "output closed: standard output's reader went away (a pipe such as | head); nothing more is printed",
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _version() -> str:
    from asyncsgd import __version__

    return __version__


def _deprecated(category: type[Warning]) -> bool:
    """Whether ``category`` is a deprecated setting's warning (its module is loaded by then)."""
    legacy = sys.modules.get("asyncsgd.config.legacy")
    return legacy is not None and issubclass(category, legacy.DeprecatedSetting)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: see :data:`EXIT_STATUS`; 141 (128 + SIGPIPE, as a shell reports a program the
    signal ended) when the reader of standard output went away (``asyncsgd list | head -1``)."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def one_line(message: Warning | str, category: type[Warning], *where: Any, **more: Any) -> None:
            """A deprecated setting as one line on stderr (no source line, no file position)."""
            if _deprecated(category):
                print(f"asyncsgd: warning: {message}", file=sys.stderr)
            else:
                shown(message, category, *where, **more)

        warnings.filterwarnings("default", category=FutureWarning, module="asyncsgd")
        warnings.showwarning = one_line
        try:
            code = _main(argv)
            sys.stdout.flush()  # here, where a closed pipe can still be caught, not at exit
            return code
        except BrokenPipeError as err:
            if _stdout_closed():
                return 141
            print(f"asyncsgd: error: {err}", file=sys.stderr)  # a pipe to another process
            return 1


def _stdout_closed() -> bool:
    """Whether standard output's reader is gone (its pipe reports an error); if so, point it at
    /dev/null, so that the interpreter's last flush of what is still buffered does not fail too."""
    try:
        fd = sys.stdout.fileno()
        events = select.poll()
        events.register(fd, select.POLLOUT)
        gone = any(flags & (select.POLLERR | select.POLLHUP) for _, flags in events.poll(0))
    except (OSError, ValueError, AttributeError):  # captured output, or no poll on this platform
        return False
    if gone:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    return gone


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except (ConfigError, UnknownName) as err:
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # main tells standard output closed early from a broken pipe to a process
    except (EngineFailure, OSError) as err:  # OSError: a result that cannot be written (disk full, ...)
        print(f"asyncsgd: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # a signal during set-up, or a second Ctrl-C
        from asyncsgd.experiment.interrupt import describe

        print(f"asyncsgd: interrupted ({describe(err)})", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
