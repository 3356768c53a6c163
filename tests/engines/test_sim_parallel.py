"""The simulator with gradient workers: the same trace and the same bits for any worker count."""

from __future__ import annotations

import csv
import threading
import time

import pytest
import torch
from torch import nn

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.config.legacy import canonical_form
from asyncsgd.engines.sim import workers as pool
from asyncsgd.engines.sim.workers import AUTO_MIN_PARAMETERS, auto_workers
from asyncsgd.errors import ConfigError
from asyncsgd.experiment.runner import torch_threads
from asyncsgd.metrics import params_sha256
from asyncsgd.vocabulary.flat import FlatModel
from tests.conftest import run_sim, small_config

CASES = {
    "downpour": {},
    "topk_error_feedback": {"codec": "topk", "ratio": 0.1, "error_feedback": True},
    "dc_asgd": {"remedy": "dc_asgd"},
    "stragglers": {"slow_learners": 2, "slow_factor": 3.0, "delay": "lognormal"},
    "ssp_bound": {"ssp_bound": 1, "slow_learners": 1, "slow_factor": 4.0},
    "easgd": {"algorithm": "easgd", "exchange_period": 3},
    "localsgd": {"algorithm": "localsgd", "local_steps": 3},
    "sync": {"protocol": "sync", "delay": "lognormal"},
    "fixed": {"schedule": "fixed", "staleness": 3},
    "shared_stream": {"partition": "shared", "latency": 0.2},
    "sized_ties": {"delay": "constant", "bandwidth": 1e5},  # equal sizes: arrivals tie, seq decides
    "sized_by_payload": {"codec": "threshold", "threshold": 0.01, "bandwidth": 300.0, "latency": 0.1},
}


def trace_rows(path) -> list[dict[str, str]]:
    """Every column of every push: versions, τ, bytes, loss, simulated times of each phase."""
    with open(path / "trace.csv") as f:
        return list(csv.DictReader(f))


def outcome(synthetic, tmp_path, workers: int, **settings) -> tuple[str, list, dict]:
    job = Job.from_config(small_config(sim_workers=workers, **settings), dataset=synthetic)
    out = tmp_path / f"w{workers}"
    out.mkdir()
    result, recorder = run_sim(job, out)
    return params_sha256(result.params), trace_rows(out), dict(recorder.tau)


@pytest.mark.parametrize("case", list(CASES))
def test_any_worker_count_gives_the_same_trace_and_parameters(synthetic, tmp_path, case):
    serial = outcome(synthetic, tmp_path, 1, learners=5, updates=40, **CASES[case])
    assert len(serial[1]) >= 40
    for workers in (2, 4):
        assert outcome(synthetic, tmp_path, workers, learners=5, updates=40, **CASES[case]) == serial


def test_the_device_mirror_path_gives_the_same_bits(synthetic, tmp_path, monkeypatch):
    """device=cuda computes in a mirror of the host buffers; forced here on the CPU, the workers'
    mirrors must still give the serial bits (no step may assume the snapshot lives on the device)."""
    monkeypatch.setattr(FlatModel, "mirrors", staticmethod(lambda device: True))
    serial = outcome(synthetic, tmp_path, 1, learners=4, updates=30)
    assert outcome(synthetic, tmp_path, 3, learners=4, updates=30) == serial


class Tiny(nn.Module):
    """An MLP for the synthetic data, whose subclasses watch or break its passes."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 4))


class Exploding(Tiny):
    """An MLP whose forward raises from its ``fuse``-th call on (counted over every copy)."""

    calls = 0
    fuse = 25

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        if type(self).calls >= self.fuse:
            raise RuntimeError("model exploded")
        return self.body(x)


def sim_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("asyncsgd-sim")]


def test_workers_are_joined_when_a_learner_raises(synthetic, monkeypatch):
    monkeypatch.setattr(Exploding, "calls", 0)
    cfg = small_config(sim_workers=3, learners=4, updates=200)
    job = Job.from_config(cfg, dataset=synthetic, model=Exploding())
    with pytest.raises(RuntimeError, match="model exploded"):
        run_sim(job)
    assert Exploding.calls >= Exploding.fuse
    assert sim_threads() == []


class Overlapping(Tiny):
    """An MLP whose passes each last a few milliseconds (a sleep, which releases the interpreter
    lock) and count how many run at once, over every copy."""

    lock = threading.Lock()
    running = 0
    most = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = type(self)
        with cls.lock:
            cls.running += 1
            cls.most = max(cls.most, cls.running)
        time.sleep(0.003)
        with cls.lock:
            cls.running -= 1
        return self.body(x)


@pytest.mark.parametrize("settings", [{}, {"protocol": "sync"}, {"bandwidth": 1e6}])
def test_the_passes_of_two_learners_run_at_the_same_time(synthetic, monkeypatch, settings):
    """Two threads compute (a worker and the event loop, which takes a pass no worker has started
    rather than wait): they overlap only if the loop hands out work without waiting for it."""
    monkeypatch.setattr(Overlapping, "most", 0)
    cfg = small_config(sim_workers=2, learners=4, updates=30, **settings)
    run_sim(Job.from_config(cfg, dataset=synthetic, model=Overlapping()))
    assert Overlapping.most == 2


def test_workers_are_joined_after_a_run_and_threads_untouched(synthetic):
    before = torch.get_num_threads()
    run_sim(Job.from_config(small_config(sim_workers=2), dataset=synthetic))
    assert sim_threads() == []
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value", [-1, 2.5, "many"])
def test_bad_worker_counts_are_refused_in_one_line(value):
    with pytest.raises(ConfigError, match="sim_workers") as err:
        RunConfig.from_dict({"updates": 10, "sim_workers": value})
    assert "\n" not in str(err.value)


def test_the_worker_count_is_no_part_of_the_run_id():
    plain = RunConfig.from_dict({"learners": 4, "updates": 10})
    assert (
        RunConfig.from_dict({"learners": 4, "updates": 10, "sim_workers": 3}).canonical() == plain.canonical()
    )
    assert "sim_workers" not in canonical_form(plain.to_dict())


def test_auto_takes_one_worker_per_free_core_for_a_model_worth_a_thread(monkeypatch):
    assert auto_workers(0, 8, AUTO_MIN_PARAMETERS - 1, free=2) == 1
    assert auto_workers(0, 8, AUTO_MIN_PARAMETERS, free=2) == 2
    assert auto_workers(0, 3, 10**6, free=16) == 3
    assert auto_workers(5, 3, 10, free=1) == 3
    monkeypatch.setattr(pool, "cores", lambda: 16)
    with torch_threads(4):  # passes on 4 intra-op threads each: 16 cores hold 4 of them
        assert auto_workers(0, 8, 10**6) == 4
