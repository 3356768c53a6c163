"""``asyncsgd sweep`` and ``asyncsgd report`` end to end, with real worker processes and a real Ctrl-C."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncsgd.assembly.job import Job
from asyncsgd.cli.main import main
from asyncsgd.config import RunConfig
from asyncsgd.experiment.runner import run_job
from asyncsgd.report.recipe import parse_recipe
from asyncsgd.sweep import ResultsDB, build_sweep, run_sweep
from asyncsgd.sweep.pool import WorkerPool
from asyncsgd.sweep.worker import Task

pytestmark = pytest.mark.slow

TINY = """
name = "tiny"
description = "Dense Downpour against top-k with error feedback on the synthetic task."
dataset = "synthetic"
model = "logreg"
updates = 200
batch_size = 16

[grid]
learners = [2, 4]
seed = [0, 1]

[[methods]]
name = "downpour"

[[methods]]
name = "topk-ef"
codec = "topk"
ratio = 0.1
error_feedback = true

[[methods]]
name = "oversized"
learners = 4
batch_size = 5000
"""


def db_rows(db: Path, query: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path, int, str]:
    root = tmp_path_factory.mktemp("tiny")
    path = root / "tiny.toml"
    path.write_text(TINY)
    db = root / "tiny.db"
    with pytest.MonkeyPatch.context() as mp:
        captured = []
        mp.setattr("builtins.print", lambda *a, **k: captured.append(" ".join(map(str, a))))
        code = main(["sweep", str(path), "--db", str(db), "--workers", "2"])
    return path, db, code, "\n".join(captured)


def test_a_tiny_sweep_records_every_run_and_a_failure_does_not_stop_it(tiny):
    _, db, code, out = tiny
    assert code == 1  # one method failed
    rows = db_rows(
        db, "SELECT method, label, status, error, test_accuracy, updates FROM results ORDER BY position"
    )
    assert [r[2] for r in rows] == ["done"] * 8 + ["failed"] * 2
    assert all(r[5] == 200 and 0.3 < r[4] <= 1 for r in rows[:8])
    for method, label, _, error, _, _ in rows[8:]:
        assert method == "oversized" and label.startswith("oversized seed=")
        assert error.startswith("batch_size: batch_size 5000 exceeds") and "\n" not in error
    assert db_rows(db, "SELECT count(*) FROM runs WHERE traceback LIKE '%Traceback%'") == [(2,)]
    assert "10 runs, 0 done before, 10 to run on 2 worker(s)" in out and "8 done, 2 failed" in out
    # measurements over time, the staleness histogram and the traces summary of every finished run
    for (run_id,) in db_rows(db, "SELECT run_id FROM runs WHERE status = 'done'"):
        updates = [
            u
            for (u,) in db_rows(db, "SELECT value FROM metrics WHERE run_id = ? AND name = 'update'", run_id)
        ]
        assert updates[0] == 0 and updates[-1] == 200 and len(updates) >= 20
        (applied,) = db_rows(db, "SELECT sum(count) FROM staleness WHERE run_id = ?", run_id)[0]
        assert db_rows(db, "SELECT applied, pushes FROM traces WHERE run_id = ?", run_id) == [
            (applied, applied)
        ]
        assert db_rows(db, "SELECT count(*) FROM learners WHERE run_id = ?", run_id)[0][0] in (2, 4)


def test_a_sweep_run_is_bit_for_bit_the_run_of_asyncsgd_run(tiny):
    _, db, _, _ = tiny
    config, summary = db_rows(
        db, "SELECT r.config, r.summary FROM results JOIN runs r USING (run_id) WHERE label = ?",
        "topk-ef learners=4 seed=1",
    )[0]  # fmt: skip
    import json

    cfg = RunConfig.from_dict(json.loads(config))
    alone = run_job(Job.from_config(cfg, name="topk-ef"), None)
    assert json.loads(summary)["params_sha256"] == alone.summary["params_sha256"]


def test_rerunning_skips_finished_runs_and_retries_failed_ones(tiny, capsys):
    path, db, _, _ = tiny
    before = dict(db_rows(db, "SELECT run_id, finished FROM runs WHERE status = 'done'"))
    code = main(["sweep", str(path), "--db", str(db), "--workers", "1", "--skip-failed", "--quiet"])
    assert code == 0 and "8 done before, 0 to run" in capsys.readouterr().out
    code = main(["sweep", str(path), "--db", str(db), "--dry-run"])
    out = capsys.readouterr().out
    marks = [line[18:29].strip() for line in out.splitlines() if re.match(r"[0-9a-f]{16}  ", line)]
    assert code == 0 and marks == ["done"] * 8 + ["to run"] * 2 and "10 runs, 2 to run" in out
    assert dict(db_rows(db, "SELECT run_id, finished FROM runs WHERE status = 'done'")) == before


def test_report_has_every_table_and_figure_built_from_the_database(tiny, tmp_path, capsys):
    _, db, _, _ = tiny
    assert main(["report", str(db), "--out", str(tmp_path)]) == 0
    report = tmp_path / "tiny" / "report.md"
    assert f"report: {report}" in capsys.readouterr().out
    text = report.read_text()
    for heading in ("## Settings", "## Results", "## Figures", "## Runs not finished", "## Every run"):
        assert heading in text, heading
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    titles = ["curve-test_accuracy-vs-update", "curve-train_loss-vs-update", "staleness",
              "final-test_accuracy-vs-learners"]  # fmt: skip
    assert [re.sub(r"^\d\d-|\.png$", "", i) for i in images] == titles
    for image in images:
        assert (tmp_path / "tiny" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "tiny").glob("*.png")) == sorted(images)
    # the Results table: one row per method × learners, each mean taken over the two seeds
    results = text.split("## Results")[1].split("##")[0]
    row = next(line for line in results.splitlines() if line.startswith("| downpour | 4 |"))
    accs = [
        a
        for (a,) in db_rows(db, "SELECT test_accuracy FROM results WHERE label LIKE 'downpour learners=4 %'")
    ]
    assert row.split(" | ")[2] == "2/2" and row.split(" | ")[3].startswith(f"{100 * sum(accs) / 2:.2f} ± ")
    assert sum(1 for line in results.splitlines() if line.startswith("| ")) == 1 + 5  # header + 5 groups
    assert "| oversized | – | 0/2 | – |" in results  # its method fixes learners: no grid value
    unfinished = text.split("## Runs not finished")[1].split("##")[0]
    assert unfinished.count("| failed | 1 | batch_size: batch_size 5000 exceeds") == 2


def test_a_recipe_in_the_sweep_file_chooses_tables_and_figures(tiny, tmp_path):
    _, db, _, _ = tiny
    recipe = """
[report]
[[report.tables]]
title = "Speed"
measures = ["updates_to:0.5", "best_test_accuracy", "tau_mean"]
rows = ["method"]
[[report.figures]]
kind = "curve"
y = "test_accuracy"
x = "epoch"
facet = "learners"
title = "Accuracy per number of learners"
"""
    custom = tmp_path / "tiny.toml"
    custom.write_text(TINY + recipe)
    assert main(["sweep", str(custom), "--db", str(db), "--workers", "1", "--skip-failed", "--quiet"]) == 0
    assert main(["report", str(db), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "tiny" / "report.md").read_text()
    assert "## Speed" in text and "## Results" not in text and "updates to 50%" in text
    assert re.findall(r"!\[([^\]]*)\]", text) == ["Accuracy per number of learners"]
    assert "| downpour | 4/4 |" in text
    assert parse_recipe({"tables": [{"measures": ["test_accuracy"]}]}).tables[0].title == "Results"


@pytest.mark.parametrize(
    ("addition", "key"),
    [
        ('[report]\n[[report.tables]]\nmeasures = ["accuracy"]\n', "measures"),
        ('[report]\n[[report.figures]]\nkind = "pie"\n', "report.figures[0].kind"),
        ('[report]\n[[report.figures]]\nkind = "curve"\nx = "learners"\n', "report.figures[0].x"),
        ("[report]\ncolour = 1\n", "report.colour"),
    ],
)
def test_a_bad_report_recipe_fails_before_any_run(tmp_path, capsys, addition, key):
    path = tmp_path / "s.toml"
    path.write_text(TINY + addition)
    db = tmp_path / "s.db"
    assert main(["sweep", str(path), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"asyncsgd: error: {key}") and len(err.splitlines()) == 1
    assert not db.exists()


def test_ctrl_c_stops_the_sweep_cleanly_and_rerunning_resumes(tmp_path, capsys):
    path = tmp_path / "long.toml"
    path.write_text(
        'name = "long"\ndataset = "synthetic"\nmodel = "mlp"\nhidden = [64]\nupdates = 2000\n'
        "[grid]\nseed = [0, 1, 2, 3, 4]\n"
    )
    db = tmp_path / "long.db"
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", "sweep", str(path), "--db", str(db), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    done: list[tuple] = []
    while time.time() < deadline and len(done) < 2:
        time.sleep(0.2)
        if db.exists():
            try:
                done = db_rows(db, "SELECT run_id FROM runs WHERE status = 'done'")
            except sqlite3.OperationalError:  # the file is there before the sweep's tables are
                continue
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "run the same command to resume" in stderr and "interrupted" in stdout
    first = {rid: (status, attempts, finished) for rid, status, attempts, finished
             in db_rows(db, "SELECT run_id, status, attempts, finished FROM runs")}  # fmt: skip
    statuses = sorted(s for s, _, _ in first.values())
    assert statuses.count("interrupted") == 1 and 2 <= statuses.count("done") < 5
    assert statuses.count("planned") == 5 - statuses.count("done") - 1
    (cut,) = [rid for rid, (s, _, _) in first.items() if s == "interrupted"]
    summary = db_rows(db, "SELECT json_extract(summary, '$.updates'), json_extract(summary, '$.stop_reason') "
                          "FROM runs WHERE run_id = ?", cut)  # fmt: skip
    assert 0 < summary[0][0] < 2000 and summary[0][1] == "interrupted"
    assert (
        db_rows(db, "SELECT count(*) FROM metrics WHERE run_id = ?", cut)[0][0] > 0
    )  # kept what it measured

    traces = tmp_path / "traces"
    assert (
        main(["sweep", str(path), "--db", str(db), "--workers", "2", "--quiet", "--traces", str(traces)]) == 0
    )
    n_done = statuses.count("done")
    assert f"5 runs, {n_done} done before, {5 - n_done} to run" in capsys.readouterr().out
    second = {rid: (status, attempts, finished) for rid, status, attempts, finished
              in db_rows(db, "SELECT run_id, status, attempts, finished FROM runs")}  # fmt: skip
    assert all(s == "done" for s, _, _ in second.values())
    for rid, (status, attempts, finished) in first.items():
        if status == "done":
            assert second[rid] == (status, attempts, finished) == ("done", 1, finished)  # not redone
        else:
            assert second[rid][2] > max(f for _, _, f in first.values() if f)  # run after the interruption
    assert second[cut][1] == 2
    updates = db_rows(db, "SELECT json_extract(summary, '$.updates') FROM runs WHERE run_id = ?", cut)
    assert updates == [(2000,)]
    # --traces kept each redone run's files; their trace has one row per push
    assert sorted(p.name for p in traces.iterdir()) == sorted(
        r for r, (s, _, _) in first.items() if s != "done"
    )
    rows = (traces / cut / "trace.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == db_rows(db, "SELECT pushes FROM traces WHERE run_id = ?", cut)[0][0]


LONG_RUN = {"dataset": "synthetic", "model": "logreg", "updates": 10**7, "eval_every": 10**6}


def test_a_second_ctrl_c_kills_the_workers_and_marks_their_runs(tmp_path):
    sweep = build_sweep({"name": "abort", **LONG_RUN, "grid": {"seed": [0, 1]}})
    calls = itertools.count()

    def stop() -> bool:
        if next(calls) == 10:  # about two seconds in: the first run is in flight
            raise KeyboardInterrupt
        return False

    with ResultsDB(tmp_path / "abort.db") as db, pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, db, workers=1, stop=stop)
    rows = db_rows(
        tmp_path / "abort.db", "SELECT label, status, error, attempts FROM results ORDER BY position"
    )
    assert rows == [("run seed=0", "interrupted", "sweep aborted", 1), ("run seed=1", "planned", None, 0)]
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_fails_its_run_and_is_replaced():
    pool = WorkerPool(1)
    try:
        pool.submit(0, Task("long", "m", RunConfig.from_dict(LONG_RUN).to_dict()))
        time.sleep(1.0)
        (child,) = multiprocessing.active_children()
        os.kill(child.pid, signal.SIGKILL)
        outcomes = []
        deadline = time.time() + 60
        while not outcomes and time.time() < deadline:
            outcomes = pool.poll(0.2)
        assert [(o.run_id, o.status, o.error) for o in outcomes] == [
            ("long", "failed", "worker process died (exit code -9)")
        ]
        short = RunConfig.from_dict({**LONG_RUN, "updates": 20}).to_dict()
        pool.submit(0, Task("short", "m", short))
        while not (outcomes := pool.poll(0.2)) and time.time() < deadline:
            pass
        assert [(o.run_id, o.status) for o in outcomes] == [("short", "done")]
    finally:
        pool.close()
    assert multiprocessing.active_children() == []


def test_runs_side_by_side_leave_the_simulator_serial_unless_told():
    from asyncsgd.sweep.runner import task_config

    auto = RunConfig.from_dict({"updates": 10})
    assert auto.sim_workers == 0
    assert task_config(auto, 2)["sim_workers"] == 1  # the pool's processes already take the cores
    assert task_config(auto, 1)["sim_workers"] == 0  # one run at a time: the default decides
    told = RunConfig.from_dict({"updates": 10, "sim_workers": 3})
    assert task_config(told, 4)["sim_workers"] == 3
    assert RunConfig.from_dict(task_config(auto, 2)).canonical() == auto.canonical()  # same run id


def test_sweeps_in_turn_share_one_pool_and_keep_their_own_worker_counts(tmp_path):
    from asyncsgd.sweep.pool import SharedPool
    from tests.tiny import TINY as RUN

    one = build_sweep({"name": "one-at-a-time", **RUN, "updates": 150, "grid": {"seed": [0, 1, 2]}})
    two = build_sweep({"name": "two-at-a-time", **RUN, "grid": {"seed": [3, 4]}})
    with SharedPool(2) as shared, ResultsDB(tmp_path / "r.db") as db:
        run_sweep(one, db, workers=1, shared=shared)
        pool = shared.get()
        pids = [slot.process.pid for slot in pool._slots]
        run_sweep(two, db, workers=2, shared=shared)
        assert shared.get() is pool and [slot.process.pid for slot in pool._slots] == pids
        assert all(slot.process.is_alive() for slot in pool._slots)  # the sweeps left it open
    assert not any(slot.process.is_alive() for slot in pool._slots)  # its owner closed it
    spans = sorted(db_rows(tmp_path / "r.db", "SELECT started, finished FROM runs WHERE status = 'done'"))
    assert len(spans) == 5
    first = spans[:3]  # the one-at-a-time sweep ran first: its runs never overlapped
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(first))
