"""Sweeps sharing one database: each run is claimed once, a dead sweep's claims are taken over, and
a run that stopped before its budget is not ``done``."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncsgd.cli.main import main
from asyncsgd.sweep.db import Outcome, ResultsDB
from asyncsgd.sweep.owner import Owner, process_started
from asyncsgd.sweep.spec import build_sweep
from tests.sweep.test_db import DOC, summary
from tests.sweep.test_sweep import db_rows as rows


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_is_claimed_once_and_a_dead_owners_claim_is_taken_over(tmp_path):
    me = Owner.me()
    assert me.alive() and me.started is not None and abs(process_started(os.getpid()) - me.started) < 1
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = Owner(me.host, sleeper.pid, process_started(sleeper.pid))
        with ResultsDB(tmp_path / "r.db") as db:
            s = build_sweep({**DOC, "grid": {"seed": [0, 1, 2, 3]}})
            db.save_sweep(s)
            a, b, c, d = (r.run_id for r in s.runs)
            assert db.claim(a, other) == ("claimed", other)
            assert db.claim(a, me) == ("running", other)  # its owner lives: left to it
            sleeper.kill()
            sleeper.wait()
            assert not other.alive()
            assert db.claim(a, me) == ("claimed", me)  # its owner died: taken over
            # a reused process id (another start time), a sweep on another host, a run done
            reused = Owner(me.host, os.getpid(), me.started - 100)
            assert not reused.alive() and not Owner(me.host, dead_pid(), None).alive()
            assert db.claim(b, reused)[0] == "claimed" and db.claim(b, me) == ("claimed", me)
            remote = Owner("elsewhere.invalid", 1, 0.0)
            assert db.claim(c, remote)[0] == "claimed" and db.claim(c, me) == ("running", remote)
            db.record(Outcome(d, "failed", 1.0, 2.0, error="ValueError: boom"))
            assert db.claim(d, me, retry_failed=False)[0] == "failed"
            db.record(Outcome(b, "done", 1.0, 2.0, summary(0.9, [1])))
            assert db.claim(b, me)[0] == "done"
            assert db.release(me) == [a]
            statuses = db.statuses([a, b, c, d])
            assert statuses == {a: "interrupted", b: "done", c: "running", d: "failed"}
        attempts = dict(rows(tmp_path / "r.db", "SELECT run_id, attempts FROM runs"))
        assert attempts == {a: 2, b: 2, c: 1, d: 0}
        assert rows(tmp_path / "r.db", "SELECT owner_host, owner_pid FROM runs WHERE run_id = ?", a) == [
            (socket.gethostname(), os.getpid())
        ]
    finally:
        sleeper.kill()
        sleeper.wait()


SHARED = """
name = "shared"
dataset = "synthetic"
model = "mlp"
hidden = [32]
updates = 1000
eval_every = 1000
[grid]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
"""


def sweep_process(path: Path, db: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", "sweep", str(path), "--db", str(db), "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def counts(out: str) -> tuple[int, int, int]:
    """Runs done, left to another sweep, and done before, from a sweep's last lines."""
    found = re.search(r"shared: (\d+) done, 0 failed, 0 interrupted, 0 not started"
                      r"(?:, (\d+) left to another sweep)? \((\d+) done before\)", out)  # fmt: skip
    assert found is not None, out
    return int(found.group(1)), int(found.group(2) or 0), int(found.group(3))


@pytest.mark.slow
def test_two_sweeps_on_one_database_share_the_runs_and_run_each_once(tmp_path):
    path, db = tmp_path / "shared.toml", tmp_path / "shared.db"
    path.write_text(SHARED)
    sweeps = [sweep_process(path, db), sweep_process(path, db)]
    outs = [p.communicate(timeout=600) for p in sweeps]
    assert [p.returncode for p in sweeps] == [0, 0], outs
    assert rows(db, "SELECT status, attempts, count(*) FROM runs GROUP BY status, attempts") == [
        ("done", 1, 12)
    ]
    done, left, before = zip(*(counts(out) for out, _ in outs), strict=True)
    assert sum(done) == 12 and min(done) > 0, outs  # shared, none run twice
    assert [d + lt + b for d, lt, b in zip(done, left, before, strict=True)] == [12, 12]
    assert max(left) > 0  # a sweep said how many it left to the other


@pytest.mark.slow
def test_the_runs_of_a_killed_sweep_are_run_again(tmp_path, capsys):
    path, db = tmp_path / "shared.toml", tmp_path / "shared.db"
    path.write_text(SHARED.replace("seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "seed = [0, 1]"))
    killed = sweep_process(path, db)
    deadline = time.time() + 120
    held: list[tuple] = []
    while not held and time.time() < deadline:
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.OperationalError):  # not created yet
            held = rows(db, "SELECT run_id FROM runs WHERE status = 'running'")
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert rows(db, "SELECT run_id FROM runs WHERE status = 'running'") == held  # its claim, left behind
    assert main(["sweep", str(path), "--db", str(db), "--workers", "1", "--quiet"]) == 0
    assert "left to another sweep" not in capsys.readouterr().out
    assert rows(db, "SELECT status, count(*) FROM runs GROUP BY status") == [("done", 2)]
    assert rows(db, "SELECT attempts FROM runs WHERE run_id = ?", held[0][0]) == [(2,)]


@pytest.mark.slow
def test_a_sweep_run_that_diverges_is_done_with_its_measurements_and_not_run_again(tmp_path, capsys):
    path, db = tmp_path / "diverge.toml", tmp_path / "diverge.db"
    path.write_text('name = "diverge"\ndataset = "synthetic"\nmodel = "mlp"\nhidden = [16]\nlearners = 2\n'
                    "updates = 2000\n[grid]\nlr = [0.1, 1e30]\n")  # fmt: skip
    assert main(["sweep", str(path), "--db", str(db), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 done, 0 failed" in out and re.search(r"lr=1e\+30 +diverged at update \d+, test acc", out)
    (updates, kept), = rows(
        db, "SELECT json_extract(summary, '$.updates'), (SELECT count(*) FROM metrics m "
        "WHERE m.run_id = r.run_id) FROM runs r WHERE json_extract(summary, '$.stop_reason') = 'diverged' "
        "AND status = 'done'"
    )  # fmt: skip
    assert updates < 2000 and kept > 0
    assert main(["sweep", str(path), "--db", str(db), "--workers", "1"]) == 0
    assert "0 to run" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("summary", "status"),
    [({"stop_reason": "budget"}, "done"), ({"stop_reason": "diverged", "updates": 7}, "done"),
     ({"stop_reason": "stalled", "updates": 7}, "failed"),
     ({"stop_reason": "learners_lost", "updates": 7}, "failed"),
     ({"stop_reason": "interrupted", "interrupted": True}, "interrupted")],
)  # fmt: skip
def test_a_run_is_failed_only_when_it_stopped_early_for_a_reason_other_than_divergence(summary, status):
    from asyncsgd.sweep.worker import outcome_status

    found, error = outcome_status(summary)
    assert found == status
    expected = f"stopped before its budget: {summary['stop_reason']} after 7 updates"
    assert (error == expected) == (status == "failed")
