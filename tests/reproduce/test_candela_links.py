"""The Candela et al. report's links that cost time: the simulator's link model on short runs
(a sparse push arrives sooner, the run takes less simulated time, mean τ stays p − 1), and the
report's section on constructed results (the cost ratios, the rule per link, the verdict row)."""

from __future__ import annotations

import math
import statistics

import pytest

from asyncsgd.metrics import params_sha256
from asyncsgd.reproduce import Plan, load_results, write_report
from asyncsgd.reproduce.candela2019 import STUDY, load_rule
from asyncsgd.reproduce.candela2019.links import (
    AXIS,
    cost_ratio,
    costly_comparisons,
    free_note,
    link_comparisons,
    link_costs,
)
from asyncsgd.reproduce.candela2019.plan import LINKS
from asyncsgd.sweep import Outcome, ResultsDB
from tests.conftest import run_sim

PLAN = Plan("quick", smoke=True)
DENSE = 407_080
"""Bytes of the quick plan's dense push (the MNIST MLP, 101,770 parameters)."""


def mean_tau(recorder) -> float:
    return sum(t * n for t, n in recorder.tau.items()) / sum(recorder.tau.values())


def tau_sd(recorder) -> float:
    return statistics.pstdev(recorder.tau.elements())


def push_seconds(recorder) -> float:
    """Mean simulated seconds a push spends on the link."""
    return sum(t["push"] for t in recorder.phase_totals.values()) / recorder.pushes


def test_with_a_finite_bandwidth_a_top_k_push_arrives_sooner_but_mean_tau_stays_p_minus_1(job_factory):
    p, k = 4, 400
    dense_bytes = 4 * job_factory().flat_model().size
    link = {"learners": p, "updates": k, "delay_mean": 1.0, "bandwidth": dense_bytes / 2.0}  # 2 compute times
    sparse = {"codec": "topk", "ratio": 0.05, "error_feedback": True}
    dense_run, dense = run_sim(job_factory(**link))
    topk_run, topk = run_sim(job_factory(**link, **sparse))
    assert push_seconds(dense) == pytest.approx(2.0)  # 4d bytes at 2d bytes/s
    assert push_seconds(topk) < 0.15 * push_seconds(dense)  # values and indices of 5% of d
    # every cycle (a dense pull, the compute, the push) is shorter: the same K updates take less time
    assert topk_run.time < 0.85 * dense_run.time
    # each update ages the p − 1 other gradients in flight by one: mean τ is p − 1 for both
    assert mean_tau(dense) == pytest.approx(p - 1, abs=0.1)
    assert mean_tau(topk) == pytest.approx(p - 1, abs=0.1)
    # a fixed transfer cost makes cycles more alike: τ spreads less than with free links
    _, free = run_sim(job_factory(**{**link, "bandwidth": math.inf}))
    assert mean_tau(free) == pytest.approx(p - 1, abs=0.1)
    assert tau_sd(dense) < 0.7 * tau_sd(free)


def test_with_free_links_every_method_sees_the_same_schedule(job_factory, tmp_path):
    """Free links: the schedule (who pushes when, at which τ) comes from the compute times alone."""
    for name in ("dense", "topk"):
        (tmp_path / name).mkdir()
    run_sim(job_factory(updates=80), tmp_path / "dense")
    run_sim(job_factory(updates=80, codec="topk", ratio=0.05, error_feedback=True), tmp_path / "topk")
    columns = ("learner", "pulled_version", "version", "tau", "end_s")

    def schedule(name):
        rows = (tmp_path / name / "trace.csv").read_text().splitlines()
        header = rows[0].split(",")
        return [tuple(r.split(",")[header.index(c)] for c in columns) for r in rows[1:]]

    assert schedule("dense") == schedule("topk")


def test_synchronous_sgd_moves_the_same_parameters_on_every_link(job_factory):
    """Its updates do not depend on the link, only its time does (so one reference serves all)."""
    free, _ = run_sim(job_factory(protocol="sync", updates=20))
    slow, _ = run_sim(job_factory(protocol="sync", updates=20, bandwidth=1e3))
    assert params_sha256(free.params) == params_sha256(slow.params) and slow.time > free.time


def test_every_size_crosses_a_free_a_comparable_and_a_dominant_link():
    for size in ("quick", "standard", "full"):
        sweep = dict((p.key, s) for p, s in STUDY.sweeps(Plan(size)))[LINKS]
        methods = {r.method for r in sweep.runs}
        assert {"downpour", "topk-ef", "sync"} <= methods
        assert {r.config.ratio for r in sweep.runs if r.method == "topk-ef"} == {0.01, 0.1}
        assert len({r.config.learners for r in sweep.runs}) == 1
        assert len({r.config.seed for r in sweep.runs if r.method == "downpour"}) >= 3
        dense = {"quick": DENSE, "standard": DENSE, "full": 1_078_888}[size]  # 4 × parameters
        ratios = sorted(dense / r.config.bandwidth / r.config.delay_mean for r in sweep.runs)
        assert {round(v, 6) for v in ratios} == {0.0, 1.0, 10.0}


def constructed(tmp_path, gain: float, spread: float = 0.0):
    """The smoke plan's runs with made-up summaries: top-k with error feedback ``gain`` above
    Downpour at the costly link (± ``spread`` by seed), level at the free one; synchronous SGD 2
    points above Downpour; τ and bytes as the link model gives them."""
    db_path = tmp_path / "made-up.db"
    with ResultsDB(db_path) as db:
        for part, sweep in STUDY.sweeps(PLAN):
            db.save_sweep(sweep)
            for run in sweep.unique_runs():
                cfg = run.config
                acc = 0.80 + 0.02 * cfg.seed + (0.02 if cfg.protocol == "sync" else 0.0)
                sparse = run.method == "topk-ef"
                if sparse and part.key == LINKS and math.isfinite(cfg.bandwidth):
                    acc += gain + (spread if cfg.seed else -spread)
                up = 8 * int(cfg.ratio * DENSE / 4) if sparse else DENSE
                summary = {
                    "final_test_accuracy": acc,
                    "staleness": {"mean": 0.0 if cfg.protocol == "sync" else 7.0, "p95": 12.0},
                    "bytes": {"up_per_push": up, "dense_push": DENSE},
                    "time": {"engine_seconds": 100.0},
                }
                db.record(Outcome(run.run_id, "done", 0.0, 1.0, summary))
    return load_results(STUDY, PLAN, db_path, tmp_path / "report")


def test_the_cost_of_each_link_is_read_back_from_the_runs(tmp_path):
    view = constructed(tmp_path, 0.01).view(LINKS)
    at = {}
    for r in view.runs:
        at.setdefault((r.key("bandwidth"), r.member.method, r.key("ratio")), []).append(r)
    assert cost_ratio(at[(math.inf, "downpour", None)][0]) == 0.0
    assert cost_ratio(at[(DENSE, "downpour", None)][0]) == pytest.approx(1.0)
    assert cost_ratio(at[(DENSE, "topk-ef", 0.01)][0]) == pytest.approx(8 * 1017 / DENSE)
    assert cost_ratio(at[(DENSE, "topk-ef", 0.01)][0], dense=True) == pytest.approx(1.0)
    costs = link_costs(view)
    assert costs == pytest.approx({"bandwidth = 407,080 B/s": 2.0, "bandwidth = inf": 2.0})


@pytest.mark.parametrize(
    ("gain", "spread", "outcome"),
    [(0.03, 0.0, "better"), (0.01, 0.01, "inconclusive"), (0.001, 0.0, "equivalent"), (-0.03, 0.0, "worse")],
)
def test_each_sparsifier_is_judged_against_downpour_at_the_same_link(tmp_path, gain, spread, outcome):
    res = constructed(tmp_path, gain, spread)
    rule = load_rule("quick")
    found = link_comparisons(res, rule)
    assert {c.setting for c in found} == {AXIS.label(DENSE), AXIS.label(math.inf)}
    assert all(c.against == "downpour" and c.n == 2 for c in found)
    costly = costly_comparisons(res, rule)
    assert len(costly) == 2 and {c.outcome for c in costly} == {outcome}
    assert {c.outcome for c in found if c not in costly} == {"equivalent"}  # level at the free link
    if spread == 0:
        assert statistics.fmean(c.diff for c in costly) == pytest.approx(100 * gain)


@pytest.mark.slow
def test_the_report_has_the_links_section_and_verdict_row_and_says_the_other_links_are_free(tmp_path):
    res = constructed(tmp_path, 0.03)
    for part in ("delays", "fixed"):
        assert "infinite bandwidth" in free_note(res.view(part))
    text = write_report(res)[0].read_text()
    row = next(line for line in text.split("## Verdict")[1].splitlines() if "links cost time" in line)
    assert "| better 2 |" in row and "bandwidth = 407,080 B/s (topk-ef ratio=0.01 vs downpour)" in row
    for title in ("## Staleness from the delay model", "## Fixed staleness"):
        assert (
            "τ, is the same for every asynchronous method by construction"
            in text.split(title)[1].split("\n## ")[0]
        )
    section = text.split("## Links that cost time")[1].split("\n## ")[0]
    assert "bandwidth = 407,080 B/s: a dense push of 407 kB takes 1 mean compute times" in section
    assert "bandwidth = inf: mean τ 7.00 to 7.00, p95 12 to 12" in section and "at 2 of 2 links" in section
    assert section.count("![") == 3
