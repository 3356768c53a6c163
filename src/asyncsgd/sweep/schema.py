"""The results database's schema, and how a file is opened as one: read-only (changing nothing,
refusing what is not a results database) or to write (created, or upgraded from an older schema).

Writes are explicit ``BEGIN IMMEDIATE ... COMMIT`` transactions (:func:`transaction`): each holds
the write lock from its first statement, so several processes may write one database, and what a
transaction reads no other process changes before it commits.
"""

from __future__ import annotations

import contextlib
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from asyncsgd.errors import ConfigError
from asyncsgd.vocabulary.reporting import PHASES

SCHEMA_VERSION = 3
"""1: the first; 2: runs record their owner; 3: the ``results`` view shows ``val_accuracy`` (a
database of an older schema is read as it is, and upgraded when written to). The ``pushes`` table
(what replays read) is optional: made when a database is opened to write, absent reads as empty."""
TRACE_COLUMNS = (
    "pushes", "applied", "rejected", "dropped", "bytes_up", "bytes_down", "compression",
    "tau_mean", "tau_p50", "tau_p95", "tau_max", "engine_seconds", "wall_seconds", *PHASES,
)  # fmt: skip
LEARNER_COLUMNS = ("pushes", "applied", "rejected", "dropped", "bytes_up", "bytes_down", *PHASES)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, definition TEXT NOT NULL,
    source TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL, finished REAL,
    error TEXT, traceback TEXT, summary TEXT, owner_host TEXT, owner_pid INTEGER, owner_started REAL);
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
CREATE TABLE IF NOT EXISTS pushes (run_id TEXT PRIMARY KEY, pushes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, command TEXT NOT NULL,
    started REAL NOT NULL, finished REAL NOT NULL, workers INTEGER NOT NULL, cores INTEGER NOT NULL,
    load_before TEXT NOT NULL, load_after TEXT NOT NULL, ran INTEGER NOT NULL,
    done_before INTEGER NOT NULL, interrupted INTEGER NOT NULL);
CREATE VIEW IF NOT EXISTS results AS
    SELECT m.sweep, m.position, m.method, m.label, m.run_id, r.status, r.attempts, r.error,
           json_extract(r.summary, '$.final_test_accuracy') AS test_accuracy,
           json_extract(r.summary, '$.final_train_loss') AS train_loss,
           json_extract(r.summary, '$.final_val_accuracy') AS val_accuracy,
           json_extract(r.summary, '$.updates') AS updates,
           t.tau_mean, t.tau_max, t.bytes_up, t.wall_seconds, r.started, r.finished
    FROM sweep_runs m JOIN runs r USING (run_id) LEFT JOIN traces t USING (run_id);
"""
UPGRADES = {
    1: ("ALTER TABLE runs ADD COLUMN owner_host TEXT", "ALTER TABLE runs ADD COLUMN owner_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN owner_started REAL"),
    2: ("DROP VIEW IF EXISTS results",),  # made again, with val_accuracy, by the schema's statements
}  # fmt: skip
"""Statements that take a database from schema ``key`` to the next."""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection; rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


REQUIRED = ("sweeps", "sweep_runs", "runs", "settings", "metrics", "staleness", "traces", "learners")
"""Tables every results database has (since schema 1)."""


def _state(conn: sqlite3.Connection) -> tuple[int, set[str]]:
    """The schema version and the names of what the database holds (a trigger's name prefixed
    with ``trigger:``)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    rows = conn.execute("SELECT type, name FROM sqlite_master")
    return version, {f"trigger:{name}" if kind == "trigger" else name for kind, name in rows}


def _check(path: Path, version: int, names: set[str], readonly: bool) -> None:
    if version > SCHEMA_VERSION:
        raise ConfigError(
            str(path), f"results database of schema {version}; this asyncsgd reads {SCHEMA_VERSION}"
        )
    if version == 0 and names:
        raise ConfigError(str(path), "not an asyncsgd results database")
    if version == 0 and readonly:
        raise ConfigError(str(path), "not an asyncsgd results database (it is empty)")
    missing = [t for t in REQUIRED if t not in names]
    if version > 0 and missing:
        raise ConfigError(str(path), f"not an asyncsgd results database (no table {missing[0]!r})")
    triggers = sorted(n.removeprefix("trigger:") for n in names if n.startswith("trigger:"))
    if triggers:  # asyncsgd makes none; one in a file from elsewhere would run its SQL on our writes
        raise ConfigError(str(path), f"holds trigger {triggers[0]!r}: asyncsgd results databases have none")


def _side_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


@contextmanager
def _one_line(path: Path, conn: sqlite3.Connection | None = None) -> Iterator[None]:
    try:
        yield
    except (sqlite3.DatabaseError, ConfigError) as err:
        if conn is not None:
            conn.close()
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(str(path), f"not a results database ({err})") from None


def connect_to_read(path: Path) -> tuple[sqlite3.Connection, set[Path]]:
    """A read-only connection (``mode=ro``) to the results database at ``path``, and the side
    files (``-wal``, ``-shm``) SQLite may create for it that were not there (for :func:`tidy`)."""
    if not path.is_file():
        raise ConfigError(str(path), "no such results database")
    created = {p for p in _side_files(path) if not p.exists()}
    with _one_line(path):
        conn = sqlite3.connect(
            f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro", uri=True, timeout=30.0
        )
    try:
        with _one_line(path, conn):
            _check(path, *_state(conn), readonly=True)
    except ConfigError:
        tidy(path, created)
        raise
    return conn, created


def _create(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            conn.execute(statement)


def connect_to_read_missing_ok(path: Path) -> tuple[sqlite3.Connection, set[Path]]:
    """:func:`connect_to_read`, or for a database not created yet an empty one in memory (what a
    dry run reads: every run still to do), leaving nothing on disk."""
    if path.exists():
        return connect_to_read(path)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with transaction(conn):
        _create(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return conn, set()


def connect_to_write(path: Path) -> sqlite3.Connection:
    """An autocommit connection to the results database at ``path``, created if new (or an
    empty file) and upgraded if of an older schema; a file that is not one is refused untouched."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file where the folder should be, or no permission
        raise ConfigError(str(path), f"cannot make its folder {path.parent} ({err.strerror})") from None
    with _one_line(path):
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    with _one_line(path, conn):
        _check(path, *_state(conn), readonly=False)  # before anything is written to it
        conn.execute("PRAGMA journal_mode=WAL")
        with transaction(conn):  # another process may be creating or upgrading it at the same time
            version, names = _state(conn)
            _check(path, version, names, readonly=False)
            for v in range(version or SCHEMA_VERSION, SCHEMA_VERSION):  # an older schema
                for statement in UPGRADES[v]:
                    conn.execute(statement)
            _create(conn)  # every statement is "IF NOT EXISTS": what an older file lacks is added
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return conn


def tidy(path: Path, created: set[Path]) -> None:
    """Remove the side files a read-only connection left (of those in ``created``), the way SQLite
    does: by a connection that may write closing last. It reads the schema and writes nothing; a
    writer still at work keeps its files."""
    if not any(p.exists() for p in created):
        return
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(path, timeout=1.0)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
