"""The validation split: held out of the training set, from the data seed alone, never trained on."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

import asyncsgd
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import load_dataset
from asyncsgd.data.split import hold_out, validation_indices
from asyncsgd.errors import ConfigError
from asyncsgd.experiment.runner import run_job

SMALL = {"engine": "sim", "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 3,
         "batch_size": 16, "updates": 40, "epochs": 0.0}  # fmt: skip


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x}


def test_split_is_disjoint_complete_stratified_and_fixed_by_the_data_seed():
    labels = load_dataset("synthetic").y_train.numpy()
    kept, held = validation_indices(labels, 0.2, data_seed=3)
    assert np.intersect1d(kept, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(labels.size))
    assert abs(held.size - 0.2 * labels.size) <= len(np.unique(labels))
    share = np.bincount(labels[held]) / np.bincount(labels)
    assert np.allclose(share, 0.2, atol=0.01)
    again, held_again = validation_indices(labels, 0.2, data_seed=3)
    assert np.array_equal(held, held_again) and np.array_equal(kept, again)
    assert not np.array_equal(held, validation_indices(labels, 0.2, data_seed=4)[1])


def test_held_out_rows_leave_the_training_set():
    ds = load_dataset("synthetic")
    split = hold_out(ds, 0.25, data_seed=0)
    assert split.n_train + int(split.y_val.shape[0]) == ds.n_train
    assert rows(split.x_train).isdisjoint(rows(split.x_val))
    assert rows(split.x_train) | rows(split.x_val) == rows(ds.x_train)
    assert torch.equal(split.x_test, ds.x_test)
    assert hold_out(ds, 0.0, data_seed=0) is ds


def test_every_method_and_run_seed_holds_out_the_same_samples():
    a = Job.from_config(RunConfig.from_dict({**SMALL, "validation": 0.2, "seed": 0, "lr": 0.1}))
    b = Job.from_config(RunConfig.from_dict({**SMALL, "validation": 0.2, "seed": 7, "lr": 0.01,
                                             "codec": "topk"}))  # fmt: skip
    c = Job.from_config(RunConfig.from_dict({**SMALL, "validation": 0.2, "data_seed": 1}))
    assert torch.equal(a.dataset.x_val, b.dataset.x_val)
    assert not torch.equal(a.dataset.x_val, c.dataset.x_val)


@pytest.mark.parametrize("partition", ["disjoint", "shared"])
def test_learners_never_draw_a_held_out_sample(partition):
    job = Job.from_config(RunConfig.from_dict({**SMALL, "validation": 0.3, "partition": partition}))
    held = rows(job.dataset.x_val)
    drawn: list[torch.Tensor] = []
    batch = job.batch

    def recording(indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch(indices)
        drawn.append(x)
        return x, y

    job.batch = recording  # type: ignore[method-assign]  (what every engine's learners call)
    result = run_job(job, None)
    assert result.summary["updates"] == SMALL["updates"]
    seen = rows(torch.cat(drawn))
    assert len(drawn) >= SMALL["updates"] and seen
    assert seen.isdisjoint(held)


def test_without_validation_the_run_is_the_one_it_always_was(tmp_path):
    absent = asyncsgd.train(**SMALL, out=tmp_path / "absent")
    zero = asyncsgd.train(**SMALL, validation=0.0, out=tmp_path / "zero")
    assert absent.summary["params_sha256"] == zero.summary["params_sha256"]
    assert (
        RunConfig.from_dict(SMALL).canonical()
        == RunConfig.from_dict({**SMALL, "validation": 0.0}).canonical()
    )
    assert "validation" not in json.loads(RunConfig.from_dict(SMALL).canonical())
    for name in ("absent", "zero"):
        summary = json.loads((tmp_path / name / "run" / "summary.json").read_text())
        assert "final_val_accuracy" not in summary
        with (tmp_path / name / "run" / "metrics.csv").open() as f:
            assert not any(c.startswith("val_") for c in next(csv.reader(f)))


def test_validation_is_measured_beside_the_test_set(tmp_path):
    result = asyncsgd.train(**SMALL, validation=0.2, out=tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "run" / "summary.json").read_text())
    assert 0 <= summary["final_val_accuracy"] <= 1
    assert summary["final_val_accuracy"] == result.metrics[-1]["val_accuracy"]
    assert "validation" in json.loads(RunConfig.from_dict({**SMALL, "validation": 0.2}).canonical())
    with (tmp_path / "out" / "run" / "metrics.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(result.metrics) and all(float(r["val_loss"]) > 0 for r in table)


@pytest.mark.parametrize("value", [0.6, -0.1, "half"])
def test_a_bad_fraction_is_refused_naming_validation(value):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({**SMALL, "validation": value})
    assert err.value.key == "validation" and "\n" not in str(err.value)


def test_a_split_that_leaves_no_validation_sample_is_refused_naming_validation():
    tiny = load_dataset("synthetic")
    tiny = type(tiny).from_arrays("tiny", tiny.x_train[:4].numpy(), np.arange(4) % 2,
                                  tiny.x_test[:4].numpy(), np.arange(4) % 2)  # fmt: skip
    with pytest.raises(ConfigError) as err:
        Job.from_config(RunConfig.from_dict({**SMALL, "validation": 0.01, "batch_size": 1, "learners": 1}),
                        dataset=tiny)  # fmt: skip
    assert err.value.key == "validation" and "empty validation" in str(err.value)


def val_column(path) -> list[float]:
    with path.open() as f:
        return [float(r["val_accuracy"]) for r in csv.DictReader(f)]


def test_a_validated_run_resumes_with_its_validation_columns(tmp_path, capsys):
    from asyncsgd.config import load_experiment
    from asyncsgd.experiment.runner import run_experiment
    from tests.experiment.roundrobin import registered
    from tests.experiment.test_resume import B_UPDATES, SETTINGS, interrupted_run, resume, toml

    run = interrupted_run(tmp_path / "cut", validation=0.2)
    code, err = resume(run, capsys)
    assert code == 0, err
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "exp.toml").write_text(toml("exp", {**SETTINGS, "validation": 0.2}))
    with registered():
        run_experiment(load_experiment(whole / "exp.toml"), whole / "run")
    resumed, straight = (json.loads((d / "b" / "summary.json").read_text()) for d in (run, whole / "run"))
    assert resumed["updates"] == B_UPDATES and resumed["params_sha256"] == straight["params_sha256"]
    assert resumed["final_val_accuracy"] == straight["final_val_accuracy"]
    column = val_column(run / "b" / "metrics.csv")
    assert len(column) > 2 and column == val_column(whole / "run" / "b" / "metrics.csv")
