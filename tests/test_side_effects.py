"""A library call leaves the process as it found it: matplotlib's backend, torch's thread count,
every global random generator, logging and signal handlers."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import asyncsgd
from asyncsgd.experiment.runner import ONE_THREAD_PARAMETERS, threads_for
from asyncsgd.models import build_model
from asyncsgd.models.dense import mlp

TINY = {"dataset": "synthetic", "model": "mlp", "hidden": [16], "updates": 12, "learners": 2}

FRESH_PROCESS = """
import logging, random, signal, sys
import matplotlib
matplotlib.use("svg")  # the embedding program's choice, made before asyncsgd is imported
import numpy as np
import torch
torch.set_num_threads(3)
logging.getLogger().setLevel(logging.ERROR)

def snapshot():
    root = logging.getLogger()
    return {
        "backend": matplotlib.get_backend(),
        "pyplot": "matplotlib.pyplot" in sys.modules,
        "threads": torch.get_num_threads(),
        "torch_rng": torch.get_rng_state().tolist(),
        "random": random.getstate(),
        "numpy": [a.tolist() if hasattr(a, "tolist") else a for a in np.random.get_state()],
        "logging": (root.level, list(root.handlers)),
        "signals": (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)),
    }

before = snapshot()
import asyncsgd
import asyncsgd.experiment, asyncsgd.metrics.plots, asyncsgd.plots, asyncsgd.plots.theory
import asyncsgd.report, asyncsgd.sweep, asyncsgd.theory, asyncsgd.engines.local
after_import = snapshot()
result = asyncsgd.compare(out=OUT, threads=1, **TINY, methods={"a": {}, "b": {"codec": "topk"}})
assert result.plots, "the run drew no plot"
after_train = snapshot()
for when, state in (("import", after_import), ("train", after_train)):
    changed = [key for key in before if state[key] != before[key]]
    assert not changed, f"{when} changed {changed}"
print("ok")
"""


@pytest.mark.slow
def test_import_and_train_leave_the_process_as_it_was(tmp_path):
    """In a fresh interpreter whose program chose a matplotlib backend, thread count and logging
    level: importing asyncsgd (and what the API uses) and running a method that draws its plots
    changes none of them, nor any global random state or signal handler."""
    script = f"OUT = {str(tmp_path)!r}\nTINY = {TINY!r}\n" + textwrap.dedent(FRESH_PROCESS)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


@pytest.fixture
def three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # not what any run here asks for, nor torch's default on most machines
    yield
    torch.set_num_threads(before)


def test_train_with_threads_restores_the_thread_count(three_threads):
    result = asyncsgd.train(**TINY, threads=1)
    assert result.summary["environment"]["threads"] == 1  # the run had one thread
    assert torch.get_num_threads() == 3


class Failing(nn.Module):
    """Fails on its first training step, after the run has set its thread count."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            raise RuntimeError("broken model")
        return self.linear(x.flatten(1))


def test_a_failing_train_restores_the_thread_count(three_threads):
    with pytest.raises(RuntimeError, match="broken model"):
        asyncsgd.train(Failing(), "synthetic", updates=5, learners=2, threads=2)
    assert torch.get_num_threads() == 3


def test_threads_zero_runs_a_small_model_on_one_thread(three_threads):
    result = asyncsgd.train(**TINY)  # threads = 0, the default
    assert result.summary["environment"]["threads"] == 1
    assert torch.get_num_threads() == 3
    assert threads_for(0, ONE_THREAD_PARAMETERS) == 1
    assert threads_for(0, ONE_THREAD_PARAMETERS + 1) is None  # large: the process's count stays
    assert threads_for(4, 10) == 4  # a given count wins


def _rng_states() -> tuple:
    return torch.get_rng_state(), random.getstate(), repr(np.random.get_state())


def test_train_and_model_building_leave_every_global_rng_alone():
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    before = _rng_states()
    asyncsgd.train(**TINY, threads=1)
    build_model("lenet", (1, 28, 28), 10, seed=5)
    after = _rng_states()
    assert torch.equal(before[0], after[0])
    assert before[1:] == after[1:]


def test_model_building_seeds_no_generator_but_the_cpu_one(monkeypatch):
    """``torch.manual_seed`` would also reseed CUDA's generators, a process-wide change."""

    def forbidden(seed: int) -> None:
        raise AssertionError("torch.manual_seed called")

    monkeypatch.setattr(torch, "manual_seed", forbidden)
    monkeypatch.setattr(torch.random, "manual_seed", forbidden)
    model = build_model("mlp", (8,), 3, seed=7, hidden=(5,))
    monkeypatch.undo()
    with torch.random.fork_rng(devices=[]):  # how the builder seeded before: the same weights
        torch.manual_seed(7)
        reference = mlp((8,), 3, hidden=(5,))
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
