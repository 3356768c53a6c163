"""Checkpoints of a ``ray`` run: one at every multiple of ``checkpoint_every`` below the budget,
however far the driver lags the learners (shard 0 pauses the run on its own count), written as
plain data (``torch.load(weights_only=True)`` reads it), and a resume from one continues bit for
bit."""

from __future__ import annotations

import pytest
import torch

from asyncsgd.experiment.checkpoint import FILE, Checkpoints, Identity, load_checkpoint
from asyncsgd.experiment.runner import run_job
from asyncsgd.metrics import Recorder
from tests.engines.test_ray import ray_job, run_ray

pytestmark = pytest.mark.slow


class Saves(Recorder):
    """Notes the server's update count at every checkpoint saved."""

    def save_checkpoint(self, engine_state):
        self.saved = [*getattr(self, "saved", []), engine_state["updates"]]
        super().save_checkpoint(engine_state)


def test_no_checkpoint_is_skipped_when_the_learners_outrun_the_driver(synthetic, ray_head, tmp_path):
    every, updates, p = 20, 400, 3
    job = ray_job(synthetic, ray_head, learners=p, updates=updates, shards=2, checkpoint_every=every)
    recorder = Saves(tmp_path, job.dataset.n_train, 10**9, lambda params: {}, p)
    recorder.checkpoints = Checkpoints(tmp_path, every, Identity.of(job))
    result, _ = run_ray(job, recorder=recorder)
    marks = list(range(every, updates, every))  # every multiple below the budget
    assert len(recorder.saved) == len(marks) == result.extra["checkpoints"]
    for mark, saved in zip(marks, recorder.saved, strict=True):
        assert mark <= saved < mark + p  # the learners' pushes already on their way, at most
    state = torch.load(tmp_path / FILE, weights_only=True)  # plain data only
    assert state["updates"] == recorder.saved[-1] and len(state["engine"]["learners"]) == p


def test_a_resume_continues_bit_for_bit(synthetic, ray_head, tmp_path):
    """One learner (the simulator's math): the rule's state (DC-ASGD's per-learner backups), the
    error-feedback memory, seeds and data order come back exactly from plain data."""
    settings = {"learners": 1, "updates": 60, "checkpoint_every": 25, "remedy": "dc_asgd", "codec": "topk",
                "ratio": 0.1, "error_feedback": True}  # fmt: skip
    job = ray_job(synthetic, ray_head, **settings)
    whole = run_job(job, tmp_path)
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint["updates"] == 50
    assert whole.summary["engine_info"]["checkpoints"] == 2
    resumed = run_job(job, tmp_path, checkpoint=checkpoint)
    assert resumed.summary["updates"] == 60 and torch.equal(resumed.params, whole.params)
