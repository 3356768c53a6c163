"""Remedies inside the simulator: exact equivalences with Downpour and synchronous SGD, bounded
staleness, and what the summary reports."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
import torch

from asyncsgd.metrics import params_sha256
from asyncsgd.vocabulary.flat import FlatModel
from tests.conftest import run_sim

ASYNC = {"learners": 4, "delay": "exponential", "updates": 60, "lr": 0.05}


def trace(path) -> list[dict[str, str]]:
    with open(path / "trace.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("codec", [{}, {"codec": "topk", "ratio": 0.1, "error_feedback": True}])
@pytest.mark.parametrize(
    "remedy",
    [
        {"remedy": "dc_asgd", "dc_lambda": 0.0},
        {"remedy": "dc_asgd_adaptive", "dc_lambda": 0.0},
        {"remedy": "drop_stale", "stale_bound": float("inf")},
        {"ssp_bound": 10**6},
    ],
)
def test_neutral_remedies_equal_downpour_bit_for_bit(job_factory, tmp_path, codec, remedy):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    plain, rec_plain = run_sim(job_factory(**ASYNC, **codec), tmp_path / "a")
    other, _ = run_sim(job_factory(**ASYNC, **codec, **remedy), tmp_path / "b")
    assert max(rec_plain.tau) >= 3  # the runs are really stale
    assert params_sha256(plain.params) == params_sha256(other.params)
    assert (tmp_path / "a" / "trace.csv").read_bytes() == (tmp_path / "b" / "trace.csv").read_bytes()


def test_dc_asgd_changes_the_run_and_reports_its_memory(job_factory):
    plain, _ = run_sim(job_factory(**ASYNC))
    job = job_factory(**ASYNC, remedy="dc_asgd", dc_lambda=2.0)
    dc, _ = run_sim(job)
    d = plain.params.numel()
    assert not torch.equal(plain.params, dc.params)
    assert dc.server_memory_bytes == 4 * ASYNC["learners"] * d
    adaptive, _ = run_sim(job_factory(**ASYNC, remedy="dc_asgd_adaptive", rule="momentum"))
    assert adaptive.server_memory_bytes == 4 * ASYNC["learners"] * d + 4 * d + 4 * d


def test_drop_stale_drops_exactly_the_pushes_beyond_the_bound(job_factory, tmp_path):
    job = job_factory(**ASYNC, remedy="drop_stale", stale_bound=2)
    result, recorder = run_sim(job, tmp_path)
    rows = trace(tmp_path)
    dropped = [r for r in rows if r["applied"] == "0"]
    assert dropped and all(int(r["tau"]) > 2 for r in dropped)
    assert all(int(r["tau"]) <= 2 for r in rows if r["applied"] == "1")
    assert result.version == 60 and len(rows) == 60 + len(dropped)
    assert sum(c["dropped"] for c in recorder.per_learner.values()) == len(dropped)
    # the applied pushes alone, replayed at their pulled versions, give the final parameters
    flat = FlatModel(job.model_factory())
    history, streams = [flat.params.clone()], job.streams()
    for row in rows:
        flat.gradient(history[int(row["pulled_version"])], *job.batch(streams.next(int(row["learner"]))))
        if row["applied"] == "1":
            history.append(history[-1] - job.config.lr * flat.grads)
    torch.testing.assert_close(result.params, history[-1], rtol=0, atol=1e-6)


def test_ssp_zero_is_synchronous_sgd_with_the_summed_rate(job_factory, tmp_path):
    """With s = 0 every round, all p learners pull the same parameters x_r and the server applies
    their p gradients one by one: x_{r+1} = x_r − γ·Σ_i g_i(x_r). Synchronous SGD applies
    x_r − γ'·(1/p)·Σ_i g_i(x_r), so the two agree for γ' = p·γ, up to float rounding only (p
    roundings of one subtraction each, against one rounding of the mean), not bit for bit."""
    p, rounds = 4, 15
    settings = {"learners": p, "delay": "exponential", "lr": 0.05}
    ssp_job = job_factory(**settings, ssp_bound=0, updates=p * rounds)
    ssp, recorder = run_sim(ssp_job, tmp_path)
    sync, _ = run_sim(job_factory(**{**settings, "lr": p * 0.05}, protocol="sync", updates=rounds))
    torch.testing.assert_close(ssp.params, sync.params, rtol=0, atol=2e-6)
    rows = trace(tmp_path)
    for r in range(rounds):  # round r: p pushes, each from a different learner, all pulled at version p·r
        round_rows = rows[p * r : p * (r + 1)]
        assert {int(x["pulled_version"]) for x in round_rows} == {p * r}
        assert sorted(int(x["learner"]) for x in round_rows) == list(range(p))
    assert Counter(recorder.tau) == Counter({t: rounds for t in range(p)})
    assert sum(t["wait"] for t in recorder.phase_totals.values()) > 0


@pytest.mark.parametrize("bound", [1, 3])
def test_ssp_keeps_every_learner_within_the_bound_of_the_slowest(job_factory, tmp_path, bound):
    job = job_factory(
        learners=4, delay="exponential", slow_learners=1, slow_factor=6.0, updates=120, ssp_bound=bound
    )
    _, recorder = run_sim(job, tmp_path)
    clocks = [0] * 4
    spread = 0
    for row in trace(tmp_path):
        clocks[int(row["learner"])] += 1
        spread = max(spread, max(clocks) - min(clocks))
    assert spread == bound + 1  # a learner at the bound may finish one more push, never two
    _, free = run_sim(
        job_factory(learners=4, delay="exponential", slow_learners=1, slow_factor=6.0, updates=120)
    )
    # the fast learners wait for the straggler, so its share of the pushes grows
    assert recorder.per_learner[3]["pushes"] > free.per_learner[3]["pushes"]


def test_ssp_wait_is_reported_in_the_time_breakdown(job_factory):
    """Rounds of 3 s (the straggler's compute): the two fast learners compute 1 s and wait 2 s
    before each of their next pushes; the wait after their last push belongs to no push."""
    job = job_factory(learners=3, delay="constant", slow_learners=1, slow_factor=3.0, updates=30, ssp_bound=0)
    result, recorder = run_sim(job)
    assert result.time == pytest.approx(30.0)
    slow = recorder.phase_totals[2]
    assert slow["wait"] == 0 and sum(slow.values()) == pytest.approx(30.0)
    for i in (0, 1):
        assert recorder.phase_totals[i]["wait"] == pytest.approx(9 * 2.0)
        assert sum(recorder.phase_totals[i].values()) == pytest.approx(28.0)
