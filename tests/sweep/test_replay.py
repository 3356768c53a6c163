"""A sweep run that replays another run of the same database: the reference resolved when the sweep
is built, the pushes kept in the database, the replay handed out only after its recorded run."""

from __future__ import annotations

import sqlite3

import pytest

from asyncsgd.errors import ConfigError
from asyncsgd.sweep import ResultsDB, build_sweep, run_sweep
from asyncsgd.sweep.db import Outcome
from asyncsgd.sweep.replay import pushes_table, read_pushes, recorded_pushes, source_of
from asyncsgd.sweep.worker import Task, execute

BASE = {"name": "r", "dataset": "synthetic", "model": "mlp", "hidden": [16], "updates": 40, "learners": 3,
        "batch_size": 16, "eval_every": 20}  # fmt: skip
RECORDED = {"name": "recorded", "delay": "exponential"}
REPLAY = {"name": "replay", "schedule": "trace", "trace": "method:recorded"}


def sweep(*methods, grid=None, **doc):
    return build_sweep({**BASE, **doc, "grid": grid or {"seed": [0, 1]}, "methods": list(methods)})


def test_a_replay_names_the_recorded_run_of_its_grid_point_and_hashes_its_id():
    s = sweep(RECORDED, {**REPLAY, "grid": {"lr": [0.05, 0.1]}})
    recorded = {r.point["seed"]: r.run_id for r in s.runs if r.method == "recorded"}
    replays = [r for r in s.runs if r.method == "replay"]
    assert len(replays) == 4  # each recorded run replayed at two rates
    assert all(r.config.trace == f"run:{recorded[r.point['seed']]}" for r in replays)
    assert all(source_of(r.config) == recorded[r.point["seed"]] for r in replays)
    assert all(source_of(r.config) is None for r in s.runs if r.method == "recorded")
    # a change to the recorded run is a new replay
    other = sweep({**RECORDED, "delay_mean": 2.0}, {**REPLAY, "grid": {"lr": [0.05, 0.1]}})
    ids = {r.run_id for r in s.runs if r.method == "replay"}
    assert ids.isdisjoint(r.run_id for r in other.runs if r.method == "replay")


@pytest.mark.parametrize(
    ("methods", "grid", "key", "words"),
    [
        ([REPLAY, RECORDED], None, "replay.trace", "no earlier method"),
        ([RECORDED, {**REPLAY, "trace": "method:nobody"}], None, "replay.trace", "no earlier method"),
        ([{**RECORDED, "grid": {"lr": [0.1, 0.2]}}, REPLAY], None, "replay.trace", "2 runs of 'recorded'"),
        ([RECORDED, {**REPLAY, "trace": "run:xyz"}], None, "replay.trace", "16 hex digits"),
        ([RECORDED, {**REPLAY, "protocol": "sync"}], None, "replay.schedule", "protocol='async'"),
    ],
)
def test_a_replay_that_names_no_single_run_is_refused_naming_the_key(methods, grid, key, words):
    with pytest.raises(ConfigError) as err:
        sweep(*methods, grid=grid)
    assert err.value.key == key and words in err.value.message


def test_pushes_are_kept_replaced_on_a_redo_and_absent_where_never_kept(tmp_path):
    s = sweep(RECORDED)
    rid = s.runs[0].run_id
    with ResultsDB(tmp_path / "r.db") as db:
        db.save_sweep(s)
        db.record(Outcome(rid, "done", 0.0, 1.0, {}, pushes="learner,tau,accepted\n0,0,1\n"))
        assert recorded_pushes(db, rid) == "learner,tau,accepted\n0,0,1\n"
        db.record(Outcome(rid, "done", 0.0, 1.0, {}, pushes="learner,tau,accepted\n1,0,1\n2,1,1\n"))
        assert pushes_table(recorded_pushes(db, rid) or "") == [(1, 0, 1), (2, 1, 1)]
        db.record(Outcome(rid, "failed", 0.0, 1.0, error="x"))
        assert recorded_pushes(db, rid) is None
    conn = sqlite3.connect(tmp_path / "r.db")  # a database of before the table, opened to read
    conn.execute("DROP TABLE pushes")
    conn.close()
    with ResultsDB(tmp_path / "r.db", create=False) as db:
        assert recorded_pushes(db, rid) is None


class InProcessPool:
    """The worker pool's interface, running each task in this process when polled, the newest
    first: a replay handed out with its recorded run would run before it, and fail."""

    def __init__(self, size: int, threads: int = 1) -> None:
        self.tasks: list[Task] = []
        self.order: list[str] = []
        self.size, self.deaths_in_a_row = size, 0

    def idle(self) -> list[int]:
        return list(range(self.size - len(self.tasks)))

    def busy(self) -> list[Task]:
        return list(self.tasks)

    def submit(self, worker: int, task: Task) -> None:
        self.tasks.append(task)

    def poll(self, timeout: float) -> list[Outcome]:
        if not self.tasks:
            return []
        task = self.tasks.pop()
        self.order.append(task.run_id)
        return [execute(task)]

    def request_stop(self) -> None: ...
    def close(self) -> None: ...
    def kill(self) -> None: ...


def test_a_replay_runs_after_its_recorded_run_and_recomputes_it(tmp_path, monkeypatch):
    pools: list[InProcessPool] = []
    monkeypatch.setattr(
        "asyncsgd.sweep.runner.WorkerPool", lambda *a: pools.append(InProcessPool(*a)) or pools[-1]
    )
    s = sweep(RECORDED, REPLAY, {"name": "plain", "lr": 0.2})
    with ResultsDB(tmp_path / "r.db") as db:
        progress = run_sweep(s, db, workers=3)
        assert progress.finished["done"] == 6
        runs = {(m.method, m.point["seed"]): m for m in (db.members("r"))}
        for seed in (0, 1):
            recorded, replay = runs["recorded", seed], runs["replay", seed]
            assert pools[0].order.index(recorded.run_id) < pools[0].order.index(replay.run_id)
            assert replay.summary["params_sha256"] == recorded.summary["params_sha256"]
            assert recorded_pushes(db, replay.run_id) == recorded_pushes(db, recorded.run_id)
            assert max(t for _, t, _ in pushes_table(recorded_pushes(db, recorded.run_id) or "")) >= 1
            assert recorded_pushes(db, runs["plain", seed].run_id) is None  # kept only where replayed


def test_a_replay_of_a_run_that_failed_fails_in_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr("asyncsgd.sweep.runner.WorkerPool", InProcessPool)
    s = sweep({**RECORDED, "batch_size": 10**6}, REPLAY, grid={"seed": [0]})
    with ResultsDB(tmp_path / "r.db") as db:
        progress = run_sweep(s, db, workers=2)
        assert progress.finished["failed"] == 2
        replay = next(m for m in db.members("r") if m.method == "replay")
        recorded = next(m for m in db.members("r") if m.method == "recorded")
        assert replay.error == f"trace: run {recorded.run_id} did not finish; run it first"


def test_the_pushes_of_a_trace_are_what_the_simulator_replays(tmp_path):
    (tmp_path / "trace.csv").write_text("push_index,learner,tau,accepted,loss\n1,0,0,1,2.3\n2,2,1,0,2.2\n")
    text = read_pushes(tmp_path / "trace.csv")
    assert text == "learner,tau,accepted\n0,0,1\n2,1,0\n"
    assert pushes_table(text) == [(0, 0, 1), (2, 1, 0)]
