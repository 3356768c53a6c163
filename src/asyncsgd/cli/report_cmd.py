"""``asyncsgd report``: Markdown tables and PNG figures of the sweeps in a results database."""

from __future__ import annotations

import argparse
from pathlib import Path


def default_out(db: Path) -> Path:
    """Beside the database, named after it: ``runs/x.db`` → ``runs/x-report/`` (a folder per sweep)."""
    return db.with_name(f"{db.stem}-report")


def report(args: argparse.Namespace) -> int:
    from asyncsgd.report import build_report

    db = Path(args.db)
    out = Path(args.out) if args.out else default_out(db)
    for path in build_report(db, out, args.sweep or None):
        print(f"report: {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tables and figures of the sweeps in a results database")
    p.add_argument("db", help="results database written by `asyncsgd sweep`")
    p.add_argument("--sweep", action="append", default=[], help="only this sweep (repeatable; default: all)")
    p.add_argument(
        "--out",
        help="output directory, one folder per sweep in it (default: beside the database, named after it: "
        "runs/NAME.db → runs/NAME-report/SWEEP/report.md)",
    )
    p.set_defaults(func=report)
