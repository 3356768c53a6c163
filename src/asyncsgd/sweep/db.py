"""The results database: one SQLite file holding sweeps, their runs, and every run's measurements.

Tables (``asyncsgd report`` reads nothing else):

==============  ==========================================================================
``sweeps``      name, description, the definition (JSON), source file, created/updated
``sweep_runs``  membership: sweep, position, method, label, grid point (JSON), run_id
``runs``        run_id (hash of the resolved settings), config (those settings as canonical
                JSON, the exact text hashed), status (planned,
                running, done, failed, interrupted), attempts, created/started/finished
                (Unix seconds), error (one line) and traceback, summary (``summary.json``)
``settings``    run_id, key, value (JSON): the settings again, one row each, for SQL queries
``metrics``     run_id, row, name, value: the evaluations over time (update, samples, epoch,
                time, wall, losses, accuracies, and whatever else an evaluation reports)
``staleness``   run_id, τ, count: the histogram of applied pushes
``traces``      run_id, pushes, applied, rejected, dropped, bytes up/down, compression,
                τ mean/p50/p95/max, engine and wall seconds, time per phase
``learners``    run_id, learner: the same counters per learner
``sessions``    one row per command that executed runs (``asyncsgd reproduce``): what it was
                for, the command line, start and end, workers and cores, load averages, runs
                executed and found done
``results``     a view: one row per sweep member with its status and headline numbers
==============  ==========================================================================

A run that is redone (failed or interrupted before) has its measurements replaced, never mixed.
Only the sweep's parent process writes, so there is one writer; WAL mode lets a report read
while a sweep runs.
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

if TYPE_CHECKING:
    from asyncsgd.sweep.spec import Sweep


SCHEMA_VERSION = 1
STATUSES = ("planned", "running", "done", "failed", "interrupted")
PHASES = ("pull", "compute", "compress", "push", "wait", "apply")
"""The engines' time phases (``engines.base.PHASES``; repeated so reading a database needs no torch)."""
TRACE_COLUMNS = (
    "pushes", "applied", "rejected", "dropped", "bytes_up", "bytes_down", "compression",
    "tau_mean", "tau_p50", "tau_p95", "tau_max", "engine_seconds", "wall_seconds", *PHASES,
)  # fmt: skip
LEARNER_COLUMNS = ("pushes", "applied", "rejected", "dropped", "bytes_up", "bytes_down", *PHASES)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, definition TEXT NOT NULL,
    source TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL, finished REAL,
    error TEXT, traceback TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep TEXT NOT NULL, position INTEGER NOT NULL, method TEXT NOT NULL, label TEXT NOT NULL,
    point TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (sweep, position));
CREATE INDEX IF NOT EXISTS sweep_runs_run ON sweep_runs (run_id);
CREATE TABLE IF NOT EXISTS settings (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, row INTEGER NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, row, name));
CREATE TABLE IF NOT EXISTS staleness (
    run_id TEXT NOT NULL, tau INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (run_id, tau));
CREATE TABLE IF NOT EXISTS traces (run_id TEXT PRIMARY KEY, {", ".join(f"{c} REAL" for c in TRACE_COLUMNS)});
CREATE TABLE IF NOT EXISTS learners (
    run_id TEXT NOT NULL, learner INTEGER NOT NULL, {", ".join(f"{c} REAL" for c in LEARNER_COLUMNS)},
    PRIMARY KEY (run_id, learner));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, command TEXT NOT NULL,
    started REAL NOT NULL, finished REAL NOT NULL, workers INTEGER NOT NULL, cores INTEGER NOT NULL,
    load_before TEXT NOT NULL, load_after TEXT NOT NULL, ran INTEGER NOT NULL,
    done_before INTEGER NOT NULL, interrupted INTEGER NOT NULL);
CREATE VIEW IF NOT EXISTS results AS
    SELECT m.sweep, m.position, m.method, m.label, m.run_id, r.status, r.attempts, r.error,
           json_extract(r.summary, '$.final_test_accuracy') AS test_accuracy,
           json_extract(r.summary, '$.final_train_loss') AS train_loss,
           json_extract(r.summary, '$.updates') AS updates,
           t.tau_mean, t.tau_max, t.bytes_up, t.wall_seconds, r.started, r.finished
    FROM sweep_runs m JOIN runs r USING (run_id) LEFT JOIN traces t USING (run_id);
"""


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


class ResultsDB:
    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ConfigError(str(path), "no such results database")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    str(path), f"results database of schema {version}; this asyncsgd reads {SCHEMA_VERSION}"
                )
            if version == 0 and self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise ConfigError(str(path), "not an asyncsgd results database")
            self.conn.execute("PRAGMA journal_mode=WAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as err:
            raise ConfigError(str(path), f"not a results database ({err})") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.conn:
            yield self.conn

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
            for table in ("metrics", "staleness", "traces", "learners"):
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
    t = d.get("time", {})
    return [
        d.get("pushes", 0), d.get("applied", 0), d.get("rejected", 0), d.get("dropped", 0),
        d.get("bytes_up", 0), d.get("bytes_down", 0), *[t.get(p) for p in PHASES],
    ]  # fmt: skip
