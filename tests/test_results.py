"""``asyncsgd.results``: a real sweep's database and a real run directory as one tidy table."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from asyncsgd import results
from asyncsgd.cli.main import main
from asyncsgd.config.settings import declared
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.db import ResultsDB
from asyncsgd.sweep.spec import build_sweep
from asyncsgd.sweep.worker import Task, execute
from tests.tiny import TINY, TINY_TOML

SMALL = TINY
SWEEP = {
    "name": "mix", **SMALL,
    "methods": [
        {"name": "downpour"},
        {"name": "topk", "codec": "topk", "error_feedback": True, "grid": {"ratio": [0.1, 0.3]}},
        {"name": "dc", "remedy": "dc_asgd"},
    ],
}  # fmt: skip
RUN_FILE = (
    'name = "pair"\n'
    + TINY_TOML
    + """[[methods]]
name = "downpour"
[[methods]]
name = "topk"
codec = "topk"
ratio = 0.1
error_feedback = true
"""
)


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """A sweep of four runs, three run here (in this process), ``dc`` left planned."""
    path = tmp_path_factory.mktemp("sweep") / "mix.db"
    sweep = build_sweep(SWEEP)
    with ResultsDB(path) as db:
        db.save_sweep(sweep)
        for run in sweep.unique_runs():
            if run.method != "dc":
                db.record(execute(Task(run.run_id, run.method, run.config.to_dict())))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    (folder / "pair.toml").write_text(RUN_FILE)
    assert main(["run", str(folder / "pair.toml"), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out"


def by_method(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["method"], []).append(row)
    return out


def test_a_sweep_is_one_row_per_run_with_unused_settings_null(database):
    rows = results.records(database)
    assert [r["method"] for r in rows] == ["downpour", "topk", "topk", "dc"]
    assert [r["status"] for r in rows] == ["done", "done", "done", "planned"]
    runs = by_method(rows)
    assert runs["downpour"][0]["ratio"] is None  # dense: no ratio, not the default 0.01
    assert [r["ratio"] for r in runs["topk"]] == [0.1, 0.3]
    assert runs["downpour"][0]["dc_lambda"] is None and runs["dc"][0]["dc_lambda"] == 0.04
    assert [r["codec"] for r in rows] == ["identity", "topk", "topk", "identity"]
    shared = results.constants(database)
    assert "lr" not in rows[0] and shared["lr"] == declared()["lr"].default  # shared settings aside
    assert shared["learners"] == 2 and shared["hidden"] == (16,)
    assert shared["shards"] is None  # a wall-clock engine's setting, on the simulator


def test_measures_carry_units_and_percent(database):
    rows = results.records(database)
    con = ResultsDB(database, create=False)
    try:
        member = con.members("mix")[0]
    finally:
        con.close()
    first = rows[0]
    assert first["final_test_accuracy_pct"] == pytest.approx(100 * member.summary["final_test_accuracy"])
    assert 0 < first["final_test_accuracy_pct"] <= 100
    assert first["updates_done"] == 20 and first["bytes_up"] > 0 and first["wall_s"] > 0
    assert first["engine_clock"] == "simulated" and first["tau_max"] >= first["tau_mean"] >= 0
    topk = by_method(rows)["topk"]
    assert all(r["bytes_up"] < first["bytes_up"] for r in topk)
    assert all(r[m] is None for r in by_method(rows)["dc"] for m in results.MEASURES)  # planned
    assert not set(results.MEASURES) & set(declared())  # a measure never shadows a setting


def test_a_run_directory_is_one_row_per_method(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())["methods"]
    rows = results.records(run_dir)
    assert [r["method"] for r in rows] == ["downpour", "topk"]
    assert rows[0]["ratio"] is None and rows[1]["ratio"] == 0.1
    assert rows[1]["error_feedback"] is True and rows[0]["error_feedback"] is False
    for row in rows:
        want = 100 * summary[row["method"]]["final_test_accuracy"]
        assert row["final_test_accuracy_pct"] == pytest.approx(want)
        assert row["params_sha256"] == summary[row["method"]]["params_sha256"]
    assert "sweep" not in rows[0] and "lr" not in rows[0]


def test_what_is_not_results_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no such results database"):
        results.records(tmp_path / "nothing.db")
    with pytest.raises(ConfigError, match="not a run directory"):
        results.records(tmp_path)
    (tmp_path / "notes.db").write_text("not sqlite\n" * 50)
    with pytest.raises(ConfigError, match="not a results database"):
        results.records(tmp_path / "notes.db")


def test_load_without_pandas_names_the_extra(database, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails, as where it is not installed
    with pytest.raises(ModuleNotFoundError) as err:
        results.load(database)
    assert str(err.value) == "asyncsgd.results.load needs pandas: pip install 'asyncsgd[pandas]'"


def test_load_is_a_tidy_dataframe(database, run_dir):
    pd = pytest.importorskip("pandas")
    frame = results.load(database)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert frame.to_dict("records")[1]["ratio"] == 0.1
    assert math.isnan(frame.loc[0, "ratio"]) and frame["ratio"].dtype.kind == "f"
    assert frame.attrs["constants"]["learners"] == 2
    assert frame["final_val_accuracy_pct"].isna().all() and frame["final_val_accuracy_pct"].dtype.kind == "f"
    assert frame.groupby("method").final_test_accuracy_pct.mean().notna().sum() == 2
    assert list(results.load(run_dir)["method"]) == ["downpour", "topk"]
