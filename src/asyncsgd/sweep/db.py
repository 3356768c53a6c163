"""The results database: one SQLite file holding sweeps, their runs, and every run's measurements.

Tables (``asyncsgd report`` reads nothing else):

==============  ==========================================================================
``sweeps``      name, description, the definition (JSON), source file, created/updated
``sweep_runs``  membership: sweep, position, method, label, grid point (JSON), run_id
``runs``        run_id (hash of the resolved settings), config (those settings as canonical
                JSON, the exact text hashed), status (planned, running, done, failed,
                interrupted), attempts, created/started/finished (Unix seconds), error (one
                line) and traceback, summary, owner (host, pid, start) of its last sweep
``settings``    run_id, key, value (JSON): the settings again, one row each, for SQL queries
``metrics``     run_id, row, name, value: the evaluations over time (update, samples, epoch,
                time, wall, losses, accuracies, and whatever else an evaluation reports)
``staleness``   run_id, τ, count: the histogram of applied pushes
``traces``      run_id, pushes, applied, rejected, dropped, bytes up/down, compression,
                τ mean/p50/p95/max, engine and wall seconds, time per phase
``learners``    run_id, learner: the same counters per learner
``pushes``      run_id, CSV of (learner, τ, accepted) per push: only for replays and what they replay
``sessions``    one row per command that executed runs (``asyncsgd reproduce``): what it was
                for, the command line, start and end, workers and cores, load averages, runs
                executed and found done
``results``     a view: one row per sweep member with its status and headline numbers
==============  ==========================================================================

A run that is redone (failed or interrupted before) has its measurements replaced, never mixed.
In a sweep only the parent process writes. Several sweeps may share a database: each claims a run
(:meth:`ResultsDB.claim`, one transaction) before it runs it, so no run is run twice at once. WAL
mode lets a report read while sweeps run; a database opened only to read (``create=False``) is
opened read-only and left byte for byte as it was.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncsgd.errors import ConfigError
from asyncsgd.sweep.owner import Owner
from asyncsgd.sweep.schema import (
    LEARNER_COLUMNS,
    PHASES,
    SCHEMA_VERSION,
    TRACE_COLUMNS,
    connect_to_read,
    connect_to_read_missing_ok,
    connect_to_write,
    tidy,
    transaction,
)

if TYPE_CHECKING:
    from asyncsgd.sweep.spec import Sweep

__all__ = ["LEARNER_COLUMNS", "PHASES", "SCHEMA_VERSION", "TRACE_COLUMNS", "Outcome", "ResultsDB"]


def to_json(value: Any) -> str:
    """JSON with NaN/Infinity written as null (JSON has neither)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), sort_keys=True)


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


@dataclass
class Outcome:
    """What a worker reports for one run."""

    run_id: str
    status: str
    started: float
    finished: float
    summary: dict[str, Any] | None = None
    metrics: list[dict[str, float]] = field(default_factory=list)
    error: str = ""
    traceback: str = ""
    pushes: str = ""  # the run's pushes, kept for a replay (:mod:`asyncsgd.sweep.replay`)


@dataclass(frozen=True)
class Session:
    """One command that executed runs into the database, as it measured itself."""

    label: str
    command: str
    started: float
    finished: float
    workers: int
    cores: int
    load_before: tuple[float, ...]
    load_after: tuple[float, ...]
    ran: int
    done_before: int
    interrupted: bool

    @property
    def wall_seconds(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Member:
    """A run as a member of a sweep, with its record."""

    position: int
    method: str
    label: str
    point: dict[str, Any]
    run_id: str
    status: str
    config: dict[str, Any]
    summary: dict[str, Any] | None
    error: str
    attempts: int
    started: float | None
    finished: float | None

    def __post_init__(self) -> None:  # JSON has no infinity: a grid's inf was stored as null
        self.point.update({k: self.config.get(k) for k, v in self.point.items() if v is None})


class ResultsDB:
    def __init__(self, path: str | Path, create: bool = True, missing_ok: bool = False) -> None:
        """Open (or create) the results database at ``path``. With ``create=False`` open an
        existing one read-only: what only reads a database never changes it (nor makes one of a
        file that is not one); with ``missing_ok`` too, a database not created yet reads as empty."""
        self.path = Path(path)
        self.readonly = not create
        self._tidy: set[Path] = set()
        if self.readonly:
            connect = connect_to_read_missing_ok if missing_ok else connect_to_read
            self.conn, self._tidy = connect(self.path)
        else:
            self.conn = connect_to_write(self.path)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None  # type: ignore[assignment]
            tidy(self.path, self._tidy)

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise RuntimeError(f"{self.path} was opened read-only")
        with transaction(self.conn) as c:
            yield c

    # -- writing -------------------------------------------------------------------------------
    def save_sweep(self, sweep: Sweep) -> None:
        """Record the sweep and its membership (replacing an older plan of the same name); runs
        not seen before are added as planned, runs already recorded keep their status."""
        now = time.time()
        with self._tx() as c:
            c.execute(
                "INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "description = excluded.description, definition = excluded.definition, "
                "source = excluded.source, updated = excluded.updated",
                (sweep.name, sweep.description, to_json(sweep.document), sweep.source, now, now),
            )
            c.execute("DELETE FROM sweep_runs WHERE sweep = ?", (sweep.name,))
            c.executemany(
                "INSERT INTO sweep_runs VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (sweep.name, i, r.method, r.label, to_json(r.point), r.run_id)
                    for i, r in enumerate(sweep.runs)
                ],
            )
            for r in sweep.unique_runs():
                settings = r.config.to_dict()
                # the exact text the run id hashes (JSON, with Infinity where a setting is infinite)
                exact = r.config.canonical()
                new = c.execute(
                    "INSERT OR IGNORE INTO runs (run_id, config, status, created) "
                    "VALUES (?, ?, 'planned', ?)",
                    (r.run_id, exact, now),
                ).rowcount
                if new:
                    c.executemany(
                        "INSERT INTO settings VALUES (?, ?, ?)",
                        [(r.run_id, k, json.dumps(v)) for k, v in settings.items()],
                    )

    def mark_running(self, run_id: str) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, started = ?, finished = NULL, "
                "error = NULL, traceback = NULL WHERE run_id = ?",
                (time.time(), run_id),
            )

    def claim(self, run_id: str, owner: Owner, retry_failed: bool = True) -> tuple[str, Owner | None]:
        """Mark ``run_id`` running for ``owner``, unless it is done, failed (and not to be retried)
        or running for an owner that is alive: ``("claimed", owner)``, else its status and holder.

        The look and the change are one transaction holding the write lock, so of two sweeps
        claiming one run at the same time exactly one gets it. A ``running`` run whose owner is
        gone (a killed sweep) is claimed like any other.
        """
        with self._tx() as c:
            row = c.execute(
                "SELECT status, owner_host, owner_pid, owner_started FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"run {run_id} is not in {self.path}")
            status, host, pid, started = row
            holder = Owner(host, pid, started) if host is not None else None
            if status == "done" or (status == "failed" and not retry_failed):
                return status, holder
            if status == "running" and holder is not None and holder.alive():
                return status, holder
            c.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, started = ?, finished = NULL, "
                "error = NULL, traceback = NULL, owner_host = ?, owner_pid = ?, owner_started = ? "
                "WHERE run_id = ?",
                (time.time(), owner.host, owner.pid, owner.started, run_id),
            )
        return "claimed", owner

    def release(self, owner: Owner, status: str = "interrupted", error: str = "sweep aborted") -> list[str]:
        """Set ``status`` on every run ``owner`` still holds (an aborted sweep); their ids."""
        who = (owner.host, owner.pid, owner.started)
        with self._tx() as c:
            held = [
                rid
                for (rid,) in c.execute(
                    "SELECT run_id FROM runs WHERE status = 'running' AND owner_host = ? AND owner_pid = ? "
                    "AND owner_started IS ?",
                    who,
                )
            ]
            c.executemany(
                "UPDATE runs SET status = ?, error = ?, finished = ? WHERE run_id = ?",
                [(status, error or None, time.time(), rid) for rid in held],
            )
        return held

    def mark(self, run_ids: Iterable[str], status: str, error: str = "") -> None:
        """Set the status of runs that ended without an outcome (e.g. an aborted sweep)."""
        with self._tx() as c:
            c.executemany(
                "UPDATE runs SET status = ?, error = ?, finished = ? WHERE run_id = ?",
                [(status, error or None, time.time(), rid) for rid in run_ids],
            )

    def record(self, outcome: Outcome) -> None:
        """Store a run's outcome and measurements atomically, replacing any from an earlier attempt."""
        rid, s = outcome.run_id, outcome.summary
        with self._tx() as c:
            for table in ("metrics", "staleness", "traces", "learners", "pushes"):
                c.execute(f"DELETE FROM {table} WHERE run_id = ?", (rid,))
            c.execute(
                "UPDATE runs SET status = ?, started = ?, finished = ?, error = ?, traceback = ?, "
                "summary = ? WHERE run_id = ?",
                (outcome.status, outcome.started, outcome.finished, outcome.error or None,
                 outcome.traceback or None, to_json(s) if s is not None else None, rid),
            )  # fmt: skip
            c.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?)",
                [(rid, i, k, _finite(v)) for i, row in enumerate(outcome.metrics) for k, v in row.items()],
            )
            if outcome.pushes:
                c.execute("INSERT INTO pushes VALUES (?, ?)", (rid, outcome.pushes))
            if s is None:
                return
            hist = s.get("staleness", {}).get("histogram", [])
            c.executemany(
                "INSERT INTO staleness VALUES (?, ?, ?)", [(rid, t, n) for t, n in enumerate(hist) if n]
            )
            c.execute(
                f"INSERT INTO traces VALUES ({', '.join('?' * (1 + len(TRACE_COLUMNS)))})",
                (rid, *[_finite(v) for v in _trace_row(s)]),
            )
            per_learner = s.get("time", {}).get("per_learner", {})
            c.executemany(
                f"INSERT INTO learners VALUES ({', '.join('?' * (2 + len(LEARNER_COLUMNS)))})",
                [(rid, int(i), *[_finite(v) for v in _learner_row(d)]) for i, d in per_learner.items()],
            )

    def record_session(self, s: Session) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (label, command, started, finished, workers, cores, load_before, "
                "load_after, ran, done_before, interrupted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (s.label, s.command, s.started, s.finished, s.workers, s.cores, json.dumps(s.load_before),
                 json.dumps(s.load_after), s.ran, s.done_before, int(s.interrupted)),
            )  # fmt: skip

    # -- reading -------------------------------------------------------------------------------
    def sessions(self, label: str) -> list[Session]:
        """The sessions recorded for ``label``, oldest first."""
        rows = self.conn.execute(
            "SELECT label, command, started, finished, workers, cores, load_before, load_after, ran, "
            "done_before, interrupted FROM sessions WHERE label = ? ORDER BY id",
            (label,),
        ).fetchall()
        return [
            Session(lb, cmd, start, end, workers, cores, tuple(json.loads(before)), tuple(json.loads(after)),
                    ran, done, bool(cut))
            for lb, cmd, start, end, workers, cores, before, after, ran, done, cut in rows
        ]  # fmt: skip

    def sweep_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sweeps ORDER BY created, name")]

    def sweep_info(self, name: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT description, definition, source, created, updated FROM sweeps WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            known = ", ".join(self.sweep_names()) or "none"
            raise ConfigError("--sweep", f"no sweep {name!r} in {self.path} (have: {known})")
        return {"name": name, "description": row[0], "definition": json.loads(row[1]), "source": row[2],
                "created": row[3], "updated": row[4]}  # fmt: skip

    def statuses(self, run_ids: Iterable[str]) -> dict[str, str]:
        ids = list(run_ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT run_id, status FROM runs WHERE run_id IN ({', '.join('?' * len(chunk))})"
            out.update(dict(self.conn.execute(q, chunk).fetchall()))
        return out

    def members(self, sweep: str) -> list[Member]:
        rows = self.conn.execute(
            "SELECT m.position, m.method, m.label, m.point, m.run_id, r.status, r.config, r.summary, "
            "r.error, r.attempts, r.started, r.finished FROM sweep_runs m JOIN runs r USING (run_id) "
            "WHERE m.sweep = ? ORDER BY m.position",
            (sweep,),
        ).fetchall()
        return [
            Member(pos, method, label, json.loads(point), rid, status, json.loads(cfg),
                   json.loads(summary) if summary else None, error or "", attempts, start, end)
            for pos, method, label, point, rid, status, cfg, summary, error, attempts, start, end in rows
        ]  # fmt: skip

    def metrics(self, run_id: str) -> list[dict[str, float | None]]:
        rows: dict[int, dict[str, float | None]] = {}
        for row, name, value in self.conn.execute(
            "SELECT row, name, value FROM metrics WHERE run_id = ? ORDER BY row", (run_id,)
        ):
            rows.setdefault(row, {})[name] = value
        return [rows[k] for k in sorted(rows)]

    def histogram(self, run_id: str) -> list[int]:
        pairs = self.conn.execute("SELECT tau, count FROM staleness WHERE run_id = ?", (run_id,)).fetchall()
        out = [0] * (max((t for t, _ in pairs), default=-1) + 1)
        for tau, n in pairs:
            out[tau] = n
        return out

    def traces(self, run_id: str) -> dict[str, float | None]:
        row = self.conn.execute(
            f"SELECT {', '.join(TRACE_COLUMNS)} FROM traces WHERE run_id = ?", (run_id,)
        ).fetchone()
        return dict(zip(TRACE_COLUMNS, row, strict=True)) if row else {}


def _trace_row(s: dict[str, Any]) -> list[Any]:
    st, by, tm = s.get("staleness", {}), s.get("bytes", {}), s.get("time", {})
    applied = st.get("count")
    breakdown = tm.get("breakdown", {})
    return [
        s.get("pushes"), applied, s.get("rejected", {}).get("total"), s.get("dropped"),
        by.get("up"), by.get("down"), by.get("compression"), st.get("mean"), st.get("p50"),
        st.get("p95"), st.get("max"), tm.get("engine_seconds"), tm.get("wall_seconds"),
        *[breakdown.get(p) for p in PHASES],
    ]  # fmt: skip


def _learner_row(d: dict[str, Any]) -> list[Any]:
    counts = ("pushes", "applied", "rejected", "dropped", "bytes_up", "bytes_down")
    return [*(d.get(k, 0) for k in counts), *(d.get("time", {}).get(p) for p in PHASES)]
