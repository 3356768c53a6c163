"""Trackers in a sweep: its runs filed under the sweep's name, and a tracker that writes files
refused at planning when the sweep keeps none."""

from __future__ import annotations

import pytest

from asyncsgd.cli.main import main
from tests.tiny import TINY_TOML

SWEEP = (
    'name = "tracked"\n'
    + TINY_TOML
    + """loggers = {loggers}

[grid]
seed = [0, 1]

[[methods]]
name = "downpour"
"""
)


@pytest.mark.parametrize("loggers", ['["tensorboard"]', '["mlflow"]'])
def test_a_tracker_writing_files_without_traces_is_refused_at_planning(tmp_path, capsys, loggers):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(loggers=loggers))
    db = tmp_path / "tracked.db"
    assert main(["sweep", str(path), "--db", str(db)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asyncsgd: error: loggers: "), captured.err
    assert "--traces" in lines[0] and captured.out == ""
    assert not db.exists()


def test_a_store_placed_elsewhere_needs_no_traces(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(loggers='["mlflow"]') + 'mlflow_uri = "sqlite:///elsewhere.db"\n')
    assert main(["sweep", str(path), "--db", str(tmp_path / "t.db"), "--dry-run"]) == 0
    assert "2 runs, 2 to run" in capsys.readouterr().out


@pytest.mark.slow
def test_a_sweeps_runs_go_to_the_mlflow_experiment_named_after_it(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(loggers='["mlflow"]'))
    traces = tmp_path / "traces"
    args = ["sweep", str(path), "--db", str(tmp_path / "t.db"), "--workers", "1", "--quiet"]
    assert main([*args, "--traces", str(traces)]) == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{traces.resolve() / 'mlflow.db'}")
    assert {e.name for e in client.search_experiments()} - {"Default"} == {"tracked"}  # MLflow's own
    runs = client.search_runs([client.get_experiment_by_name("tracked").experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(p.name for p in traces.iterdir() if p.is_dir()
                                                           and (p / "summary.json").is_file())  # fmt: skip
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
