"""The results database: what is recorded, what a redo replaces, and files that are not databases."""

from __future__ import annotations

import sqlite3

import pytest

from asyncsgd.errors import ConfigError
from asyncsgd.sweep import db as db_module
from asyncsgd.sweep.db import Outcome, ResultsDB
from asyncsgd.sweep.spec import build_sweep
from asyncsgd.vocabulary.reporting import PHASES

DOC = {"name": "s", "dataset": "synthetic", "model": "logreg", "updates": 10, "grid": {"seed": [0, 1]}}


def summary(acc: float, hist: list[int]) -> dict:
    learner = {
        "pushes": 3,
        "applied": 3,
        "bytes_up": 30,
        "bytes_down": 40,
        "time": dict.fromkeys(PHASES, 0.5),
    }
    return {
        "final_test_accuracy": acc, "final_train_loss": 0.5, "updates": 3, "pushes": 3, "dropped": 0,
        "staleness": {"count": sum(hist), "mean": 0.5, "p50": 0, "p95": 1, "max": len(hist) - 1,
                      "histogram": hist},
        "bytes": {"up": 30, "down": 40, "compression": 1.0}, "rejected": {"total": 0},
        "time": {"engine_seconds": 3.0, "wall_seconds": float("nan"), "breakdown": dict.fromkeys(PHASES, 0.5),
                 "per_learner": {"0": learner}},
    }  # fmt: skip


def test_phases_are_the_engines_phases():
    assert db_module.PHASES == PHASES


def test_outcomes_are_recorded_and_a_redo_replaces_them(tmp_path):
    s = build_sweep(DOC)
    with ResultsDB(tmp_path / "r.db") as db:
        db.save_sweep(s)
        first, second = (r.run_id for r in s.runs)
        assert db.statuses([first, second]) == {first: "planned", second: "planned"}
        db.mark_running(first)
        rows = [
            {"update": 0, "test_accuracy": 0.1, "running_loss": float("nan")},
            {"update": 3, "test_accuracy": 0.7},
        ]
        db.record(Outcome(first, "interrupted", 1.0, 2.0, summary(0.7, [1, 2]), rows))
        assert db.metrics(first) == [{"update": 0, "test_accuracy": 0.1, "running_loss": None},
                                     {"update": 3, "test_accuracy": 0.7}]  # fmt: skip
        db.mark_running(first)
        db.record(Outcome(first, "done", 3.0, 4.0, summary(0.9, [0, 0, 3]), rows[1:]))
        db.record(Outcome(second, "failed", 3.0, 3.5, error="ValueError: boom", traceback="Traceback ..."))
        assert db.metrics(first) == [{"update": 3, "test_accuracy": 0.7}]
        assert db.histogram(first) == [0, 0, 3]
        traces = db.traces(first)
        assert traces["bytes_up"] == 30 and traces["tau_max"] == 2 and traces["wall_seconds"] is None
        assert traces["compute"] == 0.5
        members = db.members("s")
        assert [(m.status, m.attempts, m.error) for m in members] == [
            ("done", 2, ""),
            ("failed", 0, "ValueError: boom"),
        ]
        assert members[0].summary["final_test_accuracy"] == 0.9 and members[0].config["seed"] == 0
        view = db.conn.execute("SELECT label, status, test_accuracy, bytes_up FROM results ORDER BY position")
        assert view.fetchall() == [("run seed=0", "done", 0.9, 30.0), ("run seed=1", "failed", None, None)]
        settings = db.conn.execute("SELECT value FROM settings WHERE run_id = ? AND key = 'seed'", (second,))
        assert settings.fetchone() == ("1",)


def test_a_new_plan_replaces_membership_and_keeps_recorded_runs(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        s = build_sweep(DOC)
        db.save_sweep(s)
        db.record(Outcome(s.runs[0].run_id, "done", 1.0, 2.0, summary(0.9, [1])))
        db.save_sweep(build_sweep({**DOC, "grid": {"seed": [0, 2]}}))
        members = db.members("s")
        assert [m.label for m in members] == ["run seed=0", "run seed=2"]
        assert [m.status for m in members] == ["done", "planned"]
        assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (3,)


def test_files_that_are_not_results_databases_are_refused(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("not sqlite at all, just text " * 100)
    with pytest.raises(ConfigError, match="not a results database"):
        ResultsDB(text)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ConfigError, match="not an asyncsgd results database"):
        ResultsDB(other)
    newer = tmp_path / "newer.db"
    ResultsDB(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfigError, match="schema 99"):
        ResultsDB(newer)
    with pytest.raises(ConfigError, match="no such results database"):
        ResultsDB(tmp_path / "missing.db", create=False)
