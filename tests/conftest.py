"""Shared fixtures: small jobs on the synthetic task, so engine tests run in milliseconds."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import Dataset, load_dataset
from asyncsgd.metrics import Recorder

torch.set_num_threads(1)  # bit-for-bit comparisons must not depend on the machine's core count


@pytest.fixture(scope="session")
def synthetic() -> Dataset:
    return load_dataset("synthetic")


def small_config(**settings: Any) -> RunConfig:
    base: dict[str, Any] = {
        "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 4, "batch_size": 16,
        "lr": 0.1, "updates": 60, "delay": "exponential",
    }  # fmt: skip
    if "epochs" in settings:
        base.pop("updates")
    return RunConfig.from_dict({**base, **settings})


def make_job(dataset: Dataset, **settings: Any) -> Job:
    return Job.from_config(small_config(**settings), dataset=dataset)


def run_sim(job: Job, out_dir=None):
    """Run ``job`` in its engine with a recorder that evaluates nothing; returns (result, recorder)."""
    recorder = Recorder(out_dir, job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
    result = ENGINES.get(job.config.engine)().run(job, recorder)
    recorder.close()
    return result, recorder


@pytest.fixture
def job_factory(synthetic):
    return lambda **settings: make_job(synthetic, **settings)
