"""The simulator: exact equivalences, derived staleness histograms, determinism, timing."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter

import pytest
import torch

from asyncsgd.errors import ConfigError
from asyncsgd.metrics import params_sha256
from asyncsgd.metrics.summary import build_accounting
from asyncsgd.vocabulary.flat import FlatModel
from tests.conftest import run_sim


def read_trace(path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def plain_sgd(job, steps: int) -> torch.Tensor:
    """A textbook PyTorch loop on learner 0's batches: torch.optim.SGD on the module itself."""
    model = job.model_factory()
    opt = torch.optim.SGD(model.parameters(), lr=job.config.lr, foreach=False)
    streams = job.streams()
    for _ in range(steps):
        x, y = job.batch(streams.next(0))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def replay_stale_sgd(job, trace: list[dict[str, str]]) -> torch.Tensor:
    """Independent reference: x_{t+1} = x_t − γ g(x_{pulled}; next batch of that learner)."""
    flat = FlatModel(job.model_factory())
    history = [flat.params.clone()]
    streams = job.streams()
    for row in trace:
        learner, pulled = int(row["learner"]), int(row["pulled_version"])
        flat.gradient(history[pulled], *job.batch(streams.next(learner)))
        history.append(history[-1] - job.config.lr * flat.grads)
    return history[-1]


def test_one_learner_without_delay_is_sequential_sgd_bit_for_bit(job_factory):
    job = job_factory(learners=1, delay="constant", delay_mean=0.0, updates=50)
    result, _ = run_sim(job)
    assert params_sha256(result.params) == params_sha256(plain_sgd(job, 50))


def test_sequential_protocol_is_one_setting_away(job_factory):
    job = job_factory(protocol="sequential", learners=8, delay="lognormal", latency=0.3, updates=40)
    assert job.config.learners == 1 and job.config.delay_mean == 0.0
    result, recorder = run_sim(job)
    assert recorder.tau == Counter({0: 40})
    assert torch.equal(result.params, plain_sgd(job, 40))


@pytest.mark.parametrize(("p", "updates"), [(2, 20), (5, 53), (8, 64)])
def test_constant_delays_give_the_derived_staleness_histogram(job_factory, p, updates):
    """All p learners finish together every round (ties broken by learner id). In round one the
    i-th apply has τ = i (i = 0 … p−1); afterwards each learner pulls right after its own push, so
    p − 1 other pushes land before its next one: τ = p − 1 for every later update."""
    job = job_factory(learners=p, delay="constant", delay_mean=1.0, updates=updates)
    _, recorder = run_sim(job)
    expected = Counter({tau: 1 for tau in range(p - 1)})
    expected[p - 1] += updates - (p - 1)
    assert recorder.tau == expected


def test_gradients_are_taken_at_the_exact_pulled_parameters(job_factory, tmp_path):
    job = job_factory(learners=4, delay="exponential", updates=40, lr=0.05)
    result, _ = run_sim(job, tmp_path)
    trace = read_trace(tmp_path / "trace.csv")
    assert max(int(r["tau"]) for r in trace) > 1
    torch.testing.assert_close(result.params, replay_stale_sgd(job, trace), rtol=0, atol=1e-6)


def test_same_seed_same_trace_and_parameters(job_factory, tmp_path):
    runs = []
    for i, seed in enumerate([3, 3, 4]):
        out = tmp_path / str(i)
        out.mkdir()
        job = job_factory(seed=seed, learners=6, delay="lognormal", codec="randomk", ratio=0.2)
        result, _ = run_sim(job, out)
        runs.append(((out / "trace.csv").read_bytes(), params_sha256(result.params)))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0] and runs[0][1] != runs[2][1]


def test_sync_sgd_averages_p_gradients_at_the_same_point(job_factory):
    job = job_factory(protocol="sync", learners=3, updates=10)
    result, recorder = run_sim(job)
    assert recorder.tau == Counter({0: 30}) and result.version == 10
    flat = FlatModel(job.model_factory())
    x, streams = flat.params.clone(), job.streams()
    for _ in range(10):
        total = torch.zeros_like(x)
        for i in range(3):
            flat.gradient(x, *job.batch(streams.next(i)))
            total.add_(flat.grads)
        x.add_(total, alpha=-job.config.lr * (1 / 3))
    assert torch.equal(result.params, x)


@pytest.mark.parametrize("dist", ["uniform", "constant", "geometric"])
def test_fixed_staleness_draws_tau_directly(job_factory, tmp_path, dist):
    job = job_factory(schedule="fixed", staleness=5, staleness_dist=dist, updates=80)
    result, _recorder = run_sim(job, tmp_path)
    trace = read_trace(tmp_path / "trace.csv")
    taus = [int(r["tau"]) for r in trace]
    assert max(taus) <= 5
    assert all(int(r["version"]) - 1 - int(r["pulled_version"]) == int(r["tau"]) for r in trace)
    if dist == "constant":
        assert taus == [min(5, v) for v in range(80)]
    if dist == "uniform":
        assert set(taus[10:]) == set(range(6))
    torch.testing.assert_close(result.params, replay_stale_sgd(job, trace), rtol=0, atol=1e-6)


def test_stragglers_push_proportionally_less(job_factory):
    job = job_factory(learners=4, delay="constant", slow_learners=1, slow_factor=4.0, updates=130)
    _, recorder = run_sim(job)
    pushes = [recorder.per_learner[i]["pushes"] for i in range(4)]
    assert pushes[3] * 4 == pytest.approx(pushes[0], abs=4)


def test_communication_time_is_latency_plus_bytes_over_bandwidth(job_factory):
    job = job_factory(learners=1, delay="constant", delay_mean=1.0, latency=0.25, bandwidth=1e6, updates=10)
    result, recorder = run_sim(job)
    nbytes = 4 * result.params.numel()
    per_update = 1.0 + 2 * (0.25 + nbytes / 1e6)
    assert result.time == pytest.approx(10 * per_update)
    totals = recorder.phase_totals[0]
    assert totals["pull"] == pytest.approx(10 * (0.25 + nbytes / 1e6))
    assert totals["compute"] == pytest.approx(10.0)
    assert sum(totals.values()) == pytest.approx(result.time)


def test_server_queue_is_fifo_and_measured(job_factory, tmp_path):
    job = job_factory(learners=4, delay="constant", delay_mean=1.0, server_time=0.5, updates=12)
    result, recorder = run_sim(job, tmp_path)
    # 4 learners × 0.5 s per apply ≥ 1 s of compute: from t = 1 the server never idles
    ends = [float(r["end_s"]) for r in read_trace(tmp_path / "trace.csv")]
    assert ends == pytest.approx([1.0 + 0.5 * (i + 1) for i in range(12)])
    assert result.time == pytest.approx(7.0)
    assert all(recorder.phase_totals[i]["wait"] > 0 for i in range(4))


def test_sparse_codec_moves_fewer_bytes(job_factory):
    dense, _ = run_sim(job_factory(updates=20))
    _, rec_dense = run_sim(job_factory(updates=20))
    _, rec_topk = run_sim(job_factory(updates=20, codec="topk", ratio=0.05, error_feedback=True))
    assert rec_topk.bytes_up < 0.15 * rec_dense.bytes_up
    assert rec_topk.bytes_down == rec_dense.bytes_down == 20 * 4 * dense.params.numel()


def test_diverging_run_stops_as_diverged(job_factory):
    job = job_factory(lr=1e30, learners=2, updates=10_000)
    result, recorder = run_sim(job)
    assert recorder.stop_reason == "diverged" and result.version < 10_000
    assert result.rejected and all("non_finite" in v for v in result.rejected.values())


def test_identity_codec_with_error_feedback_equals_no_compression(job_factory):
    plain, _ = run_sim(job_factory(updates=30))
    with_ef, _ = run_sim(job_factory(updates=30, error_feedback=True))
    assert params_sha256(plain.params) == params_sha256(with_ef.params)


def test_staleness_lr_run_equals_downpour_when_tau_never_exceeds_one(job_factory):
    settings = {"learners": 2, "delay": "constant", "updates": 30}
    plain, rec = run_sim(job_factory(**settings))
    aware, _ = run_sim(job_factory(remedy="staleness_lr", **settings))
    assert max(rec.tau) == 1
    assert params_sha256(plain.params) == params_sha256(aware.params)
    stale, _ = run_sim(job_factory(remedy="staleness_lr", **{**settings, "learners": 4}))
    base, _ = run_sim(job_factory(**{**settings, "learners": 4}))
    assert params_sha256(stale.params) != params_sha256(base.params)


@pytest.mark.parametrize(("key", "value"), [("checkpoint_every", 100), ("hogwild", True)])
def test_settings_a_simulation_would_ignore_are_refused(job_factory, key, value):
    with pytest.raises(ConfigError) as err:
        job_factory(**{key: value})
    assert err.value.key == key


@pytest.mark.parametrize("setting", ["checkpoint_every=100", "hogwild=true"])
def test_the_command_line_refuses_them_in_one_line(tmp_path, setting):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    settings = ["dataset=synthetic", "model=mlp", "updates=10", "epochs=0", setting]
    args = ["run", *(arg for s in settings for arg in ("--set", s))]
    command = [sys.executable, "-m", "asyncsgd.cli.main", *args, "--out", str(tmp_path / "out")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    key = setting.split("=")[0]
    assert done.returncode == 2 and done.stderr.startswith(f"asyncsgd: error: {key}: ")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_accounting_balances_with_drops(job_factory):
    job = job_factory(learners=4, updates=80, remedy="drop_stale", stale_bound=1)
    result, rec = run_sim(job)
    accounting = build_accounting(rec, result)
    assert accounting["dropped"] > 0 and accounting["numbered_drops"] == 0  # a drop takes no number
    assert accounting["updates"] == accounting["applied"] == 80 and accounting["balanced"]
