"""What only reads a results database opens it read-only: the file stays byte for byte as it was,
no side file is left, and a file that is not a results database is refused with one line."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from asyncsgd.cli.main import main
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.db import SCHEMA_VERSION, Outcome, ResultsDB
from asyncsgd.sweep.owner import Owner
from asyncsgd.sweep.spec import build_sweep
from tests.sweep.test_db import DOC, summary

SWEEP = """
name = "s"
dataset = "synthetic"
model = "logreg"
updates = 10
[grid]
seed = [0, 1]
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def results(tmp_path) -> Path:
    """A results database of the sweep ``s`` (one run done, one failed), closed by its writer."""
    path = tmp_path / "r.db"
    with ResultsDB(path) as db:
        s = build_sweep(DOC)
        db.save_sweep(s)
        db.record(Outcome(s.runs[0].run_id, "done", 1.0, 2.0, summary(0.9, [1, 2]), [{"update": 3.0}]))
        db.record(Outcome(s.runs[1].run_id, "failed", 1.0, 2.0, error="ValueError: boom"))
    return path


def not_databases(folder: Path) -> dict[str, Path]:
    empty = folder / "empty.db"
    empty.write_bytes(b"")
    text = folder / "notes.db"
    text.write_text("not sqlite at all, just text\n" * 100)
    other = folder / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    return {"empty": empty, "text": text, "other": other}


@pytest.mark.parametrize("kind", ["empty", "text", "other"])
def test_report_refuses_what_is_not_a_results_database_and_changes_nothing(tmp_path, capsys, kind):
    path = not_databases(tmp_path)[kind]
    before, listing = digest(path), files(tmp_path)
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"asyncsgd: error: {path}: not ")
    assert "results database" in err
    assert digest(path) == before and files(tmp_path) == listing  # no schema, no report, no side file


def test_report_reads_a_results_database_without_changing_it(results, tmp_path, capsys):
    before, listing = digest(results), files(tmp_path)
    assert main(["report", str(results), "--out", str(tmp_path / "report")]) == 0
    assert "report:" in capsys.readouterr().out
    assert digest(results) == before
    assert files(tmp_path) == sorted([*listing, "report"])  # no -wal, no -shm left beside it


def test_a_read_only_database_cannot_be_written_and_reads_while_a_writer_has_it_open(results):
    with ResultsDB(results) as writer, ResultsDB(results, create=False) as reader:
        assert reader.readonly and [m.status for m in reader.members("s")] == ["done", "failed"]
        with pytest.raises(RuntimeError, match="read-only"):
            reader.mark_running(reader.members("s")[0].run_id)
        writer.mark_running(writer.members("s")[1].run_id)
        assert [m.status for m in reader.members("s")] == ["done", "running"]  # sees the writer's work


@pytest.mark.parametrize("kind", ["empty", "text", "other", "missing"])
def test_dry_runs_create_no_database_and_change_none(tmp_path, capsys, kind):
    sweep = tmp_path / "s.toml"
    sweep.write_text(SWEEP)
    path = not_databases(tmp_path).get(kind, tmp_path / "missing.db")
    before = digest(path) if path.exists() else None
    listing = files(tmp_path)
    code = main(["sweep", str(sweep), "--db", str(path), "--dry-run"])
    out, err = capsys.readouterr()
    if kind == "missing":
        assert code == 0 and "2 runs, 2 to run" in out
    else:
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(path) in err
    code = main(["reproduce", "cong2016", "--smoke", "--db", str(path), "--dry-run"])
    out, err = capsys.readouterr()
    assert code == (0 if kind == "missing" else 2), err
    code = main(["reproduce", "cong2016", "--smoke", "--db", str(path), "--report-only",
                 "--out", str(tmp_path / "report")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and str(path) in err
    assert files(tmp_path) == listing
    assert (digest(path) if path.exists() else None) == before


def older(results: Path, path: Path, version: int, *statements: str) -> Path:
    """A copy of ``results`` taken back to schema ``version`` by ``statements``."""
    conn = sqlite3.connect(results)
    conn.execute(f"VACUUM INTO '{path}'")
    conn.close()
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    return path


def read_as_it_is(path: Path) -> None:
    """An older database read only: its runs are there and its bytes unchanged."""
    before = digest(path)
    with ResultsDB(path, create=False) as db:
        assert [m.status for m in db.members("s")] == ["done", "failed"]
    assert digest(path) == before


def test_a_database_of_the_first_schema_is_read_as_it_is_and_upgraded_when_written(results, tmp_path):
    drops = [f"ALTER TABLE runs DROP COLUMN {c}" for c in ("owner_host", "owner_pid", "owner_started")]
    old = older(results, tmp_path / "old.db", 1, *drops)
    read_as_it_is(old)
    with ResultsDB(old) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.claim(db.members("s")[1].run_id, Owner.me())[0] == "claimed"


def test_a_missing_database_is_refused_where_it_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="no such results database"):
        ResultsDB(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_database_that_claims_the_schema_but_lacks_its_tables_is_refused(tmp_path, capsys):
    fake = tmp_path / "fake.db"
    conn = sqlite3.connect(fake)
    conn.execute("CREATE TABLE sweeps (name TEXT)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    before = digest(fake)
    assert main(["report", str(fake), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"asyncsgd: error: {fake}: not an asyncsgd results database (no table 'sweep_runs')"
    with pytest.raises(ConfigError, match="no table 'sweep_runs'"):
        ResultsDB(fake)
    assert digest(fake) == before


def test_a_database_of_the_second_schema_gets_the_validation_column_when_written(results, tmp_path):
    view = "CREATE VIEW results AS SELECT m.sweep, m.run_id FROM sweep_runs m"  # the view it had
    old = older(results, tmp_path / "v2.db", 2, "DROP VIEW results", view)
    read_as_it_is(old)
    with ResultsDB(old) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
        run = db.members("s")[0].run_id
        db.record(Outcome(run, "done", 1.0, 2.0, {**summary(0.8, [1]), "final_val_accuracy": 0.75}))
        found = db.conn.execute("SELECT test_accuracy, val_accuracy FROM results WHERE run_id = ?", (run,))
        assert found.fetchall() == [(0.8, 0.75)]
