"""Progress without a terminal: one line per tenth of the budget through the ``asyncsgd`` logger,
and nothing of the program's logging configuration changed."""

from __future__ import annotations

import logging

import pytest

import asyncsgd
from asyncsgd.cli.main import main
from asyncsgd.config import build_experiment
from asyncsgd.experiment.progress import Progress
from asyncsgd.experiment.runner import run_experiment

SMALL = {
    "dataset": "synthetic",
    "model": "mlp",
    "hidden": [16],
    "learners": 2,
    "updates": 40,
    "eval_every": 10,
}


def test_a_run_off_a_terminal_logs_a_line_per_tenth_of_its_budget(caplog):
    exp = build_experiment({"name": "p", **SMALL, "methods": [{"name": "m"}]}, source="test")
    root = list(logging.getLogger().handlers)
    with caplog.at_level(logging.INFO, logger="asyncsgd"):
        progress = Progress(every=1e9)  # stderr is captured here, so no bar: log lines
        run_experiment(exp, None, progress=progress)
        progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "asyncsgd"]
    assert len(lines) == 10, lines
    assert lines[-1].startswith("m: update 40/40 (100%), epoch ")
    assert "test_accuracy nan" not in lines[-1]  # the evaluation before it is reported
    assert logging.getLogger().handlers == root


@pytest.mark.slow
def test_the_command_line_prints_progress_lines_to_stderr_and_leaves_logging_as_it_was(tmp_path, capsys):
    config = tmp_path / "exp.toml"
    config.write_text('name = "p"\ndataset = "synthetic"\nmodel = "mlp"\nhidden = [16]\nlearners = 2\n'
                      'updates = 40\n[[methods]]\nname = "m"\n')  # fmt: skip
    logger = logging.getLogger("asyncsgd")
    before = (list(logging.getLogger().handlers), list(logger.handlers), logger.level)
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "asyncsgd: m: update 40/40 (100%)" in err, err
    assert (list(logging.getLogger().handlers), list(logger.handlers), logger.level) == before
    assert main(["run", str(config), "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert "update" not in capsys.readouterr().err


def test_the_python_api_logs_progress_off_a_terminal_and_configures_no_logging(caplog, monkeypatch):
    monkeypatch.setattr("asyncsgd.experiment.progress.watched", lambda: False)  # also under pytest -s
    logger = logging.getLogger("asyncsgd")
    with caplog.at_level(logging.INFO, logger="asyncsgd"):
        before = (list(logging.getLogger().handlers), list(logger.handlers), logger.level)
        result = asyncsgd.train(**SMALL)
        assert (list(logging.getLogger().handlers), list(logger.handlers), logger.level) == before
    lines = [r.getMessage() for r in caplog.records if r.name == "asyncsgd"]
    assert len(lines) == 10, lines
    assert lines[-1].startswith("run: update 40/40 (100%), epoch ")
    assert result.summary["updates"] == 40


def test_the_python_api_with_progress_false_logs_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="asyncsgd"):
        asyncsgd.compare(**SMALL, methods={"a": {}, "b": {"lr": 0.05}}, progress=False)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncsgd"] == []


def test_the_python_api_draws_bars_where_a_person_watches(caplog, capsys, monkeypatch):
    monkeypatch.setattr("asyncsgd.experiment.progress.watched", lambda: True)  # a terminal or a notebook
    with caplog.at_level(logging.INFO, logger="asyncsgd"):
        asyncsgd.train(**SMALL)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncsgd"] == []
    assert "40/40" in capsys.readouterr().err
