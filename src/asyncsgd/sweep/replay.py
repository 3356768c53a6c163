"""A sweep run that replays another run of the same database (``schedule = "trace"``).

The simulator replays a recorded schedule from a ``trace.csv`` (:mod:`asyncsgd.delays.trace`). In a
sweep the recorded run is another member, so its trace must outlive it: a run that is replayed, and
the replay itself, keep their pushes (learner, τ, accepted; one row each, in the order the server
handled them) in the database's ``pushes`` table, and the worker of the replay writes the recorded
ones to a scratch ``trace.csv`` for the simulator to read.

A sweep file names what to replay in one of two ways:

* ``trace = "method:NAME"``: the run of method ``NAME`` (an earlier method of the same sweep) at the
  same grid point, matched on every axis both have (the seed, the learners, ...). It is resolved
  when the sweep is built, to
* ``trace = "run:RUN_ID"``: that run of the database. The replay's run id hashes the recorded run's
  id, so a changed recorded run is a new replay, and both stay deterministic.

The runner hands out a replay only once its recorded run has finished in this execution (or before
it); a recorded run that did not finish, or finished without its pushes, fails the replay with one
line naming it.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncsgd.errors import ConfigError

if TYPE_CHECKING:
    from asyncsgd.config.schema import RunConfig
    from asyncsgd.sweep.db import ResultsDB
    from asyncsgd.sweep.spec import PlannedRun

METHOD_PREFIX, RUN_PREFIX = "method:", "run:"
PUSH_COLUMNS = ("learner", "tau", "accepted")
"""What a replay needs of each push (the columns :class:`~asyncsgd.delays.trace.TraceSchedule` reads)."""
RUN_ID = re.compile(r"[0-9a-f]{16}")


def source_of(cfg: RunConfig) -> str | None:
    """The id of the database run that ``cfg`` replays, or None."""
    if cfg.schedule != "trace" or not cfg.trace.startswith(RUN_PREFIX):
        return None
    return cfg.trace.removeprefix(RUN_PREFIX)


def resolve_replay(
    values: dict[str, Any], method: str, point: Mapping[str, Any], earlier: Iterable[PlannedRun], where: str
) -> dict[str, Any]:
    """``values`` with ``trace = "method:NAME"`` turned into ``"run:ID"`` of the one earlier run of
    ``NAME`` that agrees with ``point`` on every axis both have (ConfigError at ``where`` if none
    or several do); other values are returned as they are."""
    ref = values.get("trace")
    if not isinstance(ref, str) or not ref.startswith(METHOD_PREFIX):
        return values
    name = ref.removeprefix(METHOD_PREFIX)
    runs = [r for r in earlier if r.method == name]
    if not runs:
        raise ConfigError(
            where, f"{method!r} replays method {name!r}, which no earlier method of the sweep is"
        )
    found = [r for r in runs if all(r.point[k] == v for k, v in point.items() if k in r.point)]
    if len(found) != 1:
        at = ", ".join(f"{k}={v}" for k, v in point.items()) or "its point"
        raise ConfigError(where, f"{len(found)} runs of {name!r} match {at}; a replay needs exactly one")
    return {**values, "trace": RUN_PREFIX + found[0].run_id}


def check_replay(cfg: RunConfig, where: str) -> None:
    """What can be checked of a replay before its recorded run exists (the rest, the trace file
    against the config, is checked when the replay runs)."""
    ref = cfg.trace.removeprefix(RUN_PREFIX)
    if not RUN_ID.fullmatch(ref):
        raise ConfigError(where, f"{cfg.trace!r} names no run: a run id is 16 hex digits")
    if cfg.protocol != "async":
        raise ConfigError("schedule", "a trace replays asynchronous pushes; it needs protocol='async'")


def read_pushes(path: Path) -> str:
    """The :data:`PUSH_COLUMNS` of a run's ``trace.csv`` as CSV text (itself a trace a replay reads)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PUSH_COLUMNS)
    with path.open(newline="", encoding="utf-8") as f:
        writer.writerows([row[c] for c in PUSH_COLUMNS] for row in csv.DictReader(f))
    return out.getvalue()


def write_trace(pushes: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trace.csv"
    path.write_text(pushes, encoding="utf-8")
    return path


@contextmanager
def replay_paths(
    cfg: RunConfig, out_dir: str, keep_pushes: bool, replayed: str
) -> Iterator[tuple[RunConfig, Path | None]]:
    """The config a worker runs (a replay's trace: the recorded pushes, written to a scratch folder)
    and where the run writes its outputs (a scratch folder when only its pushes are wanted)."""
    out = Path(out_dir) if out_dir else None
    if not replayed and (out is not None or not keep_pushes):
        yield cfg, out
        return
    with tempfile.TemporaryDirectory(prefix="asyncsgd-run-") as tmp:
        scratch = Path(tmp)
        if replayed:
            cfg = cfg.replace(trace=str(write_trace(replayed, scratch / "replayed")))
        yield cfg, out if out is not None or not keep_pushes else scratch / "run"


def recorded_pushes(db: ResultsDB, run_id: str) -> str | None:
    """A run's pushes as CSV text (:func:`read_pushes`), or None: not kept, or a database written
    before the table existed."""
    try:
        row = db.conn.execute("SELECT pushes FROM pushes WHERE run_id = ?", (run_id,)).fetchone()
    except sqlite3.OperationalError:  # no such table: an older database opened read-only
        return None
    return row[0] if row else None


def pushes_table(pushes: str) -> list[tuple[int, int, int]]:
    """``(learner, τ, accepted)`` per push, in order."""
    rows = csv.DictReader(io.StringIO(pushes))
    return [(int(r["learner"]), int(r["tau"]), int(r["accepted"])) for r in rows]
