"""The ``loggers`` setting: run ids untouched, one-line refusals, and TensorBoard's and MLflow's
stores read back with their own libraries, holding what ``metrics.csv`` and ``summary.json`` hold."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

import asyncsgd
from asyncsgd.config import RunConfig
from asyncsgd.errors import ConfigError
from tests.tiny import TINY

SMALL = {**TINY, "eval_every": 5}


def csv_rows(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def same(a: float, b: float, rel: float = 0.0) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=rel)


def test_trackers_leave_run_ids_and_the_canonical_form_as_they_were():
    plain = RunConfig(**SMALL)
    assert "loggers" not in plain.canonical() and "mlflow_uri" not in plain.canonical()
    tracked = RunConfig(**SMALL, loggers=["tensorboard", "mlflow"], mlflow_uri="sqlite:///x.db")
    assert tracked.canonical() == plain.canonical()


def test_an_unknown_or_repeated_tracker_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"loggers: unknown loggers 'wandb' \(known: mlflow, tensorboard\)"):
        RunConfig.from_dict({**SMALL, "loggers": ["wandb"]})
    with pytest.raises(ConfigError, match="listed twice"):
        RunConfig.from_dict({**SMALL, "loggers": ["mlflow", "mlflow"]})


def test_a_missing_library_names_the_extra_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({**SMALL, "loggers": ["mlflow"]})
    assert str(err.value) == 'loggers: mlflow needs the mlflow package: pip install "asyncsgd[mlflow]"'


def test_a_tracker_that_writes_files_needs_an_output_directory(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())  # as if installed
    with pytest.raises(ConfigError, match=r"^loggers: tensorboard writes beside the run's files"):
        asyncsgd.train(**SMALL, loggers=["tensorboard"])


@pytest.mark.slow
def test_tensorboard_event_files_hold_the_metrics_csv_values(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = asyncsgd.compare(**SMALL, loggers=["tensorboard"], out=tmp_path, name="tb",
                              methods={"slow": {"lr": 0.01}, "fast": {"lr": 0.1}})  # fmt: skip
    for method in ("slow", "fast"):
        rows = csv_rows(tmp_path / method / "metrics.csv")
        events = EventAccumulator(str(tmp_path / "tensorboard" / method), size_guidance={"scalars": 0})
        events.Reload()
        for key in ("test_accuracy", "train_loss", "epoch", "samples"):
            logged = events.Scalars(key)
            assert [e.step for e in logged] == [int(r["update"]) for r in rows]
            assert all(same(e.value, r[key], 1e-6) for e, r in zip(logged, rows, strict=True))  # float32
        summary = json.loads((tmp_path / method / "summary.json").read_text())
        final = events.Scalars("summary/final_test_accuracy")
        assert final[-1].value == pytest.approx(summary["final_test_accuracy"], rel=1e-6)
        assert events.Scalars("summary/updates")[-1].value == summary["updates"] == 20
        assert "settings/text_summary" in events.Tags()["tensors"]
    assert {m.name for m in result.methods} == {"slow", "fast"}


@pytest.mark.slow
def test_the_mlflow_store_holds_metrics_settings_and_summary(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    asyncsgd.compare(**SMALL, loggers=["mlflow"], out=tmp_path, name="ml",
                     methods={"slow": {"lr": 0.01}, "fast": {"lr": 0.1}})  # fmt: skip
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ml")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"slow", "fast"}
    for method, run in runs.items():
        rows = csv_rows(tmp_path / method / "metrics.csv")
        summary = json.loads((tmp_path / method / "summary.json").read_text())
        assert run.info.status == "FINISHED"
        assert float(run.data.params["lr"]) == {"slow": 0.01, "fast": 0.1}[method]
        assert json.loads(run.data.params["hidden"]) == [16]
        for key in ("test_accuracy", "train_loss", "time"):
            history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
            assert [m.step for m in history] == [int(r["update"]) for r in rows]
            assert all(same(m.value, r[key]) for m, r in zip(history, rows, strict=True))
        assert run.data.metrics["summary.final_test_accuracy"] == summary["final_test_accuracy"]
        assert run.data.metrics["summary.staleness.mean"] == summary["staleness"]["mean"]
        assert run.data.tags["asyncsgd.stop_reason"] == "budget"
