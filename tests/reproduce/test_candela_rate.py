"""The rate part of the Candela et al. report on constructed data: an exact K^(−1/2) is recovered,
a shallower slope is flagged as contradicting the bound, a steeper one as consistent with it, and
the section, its figure and its verdict row are built from a results database."""

from __future__ import annotations

import math
import random

import pytest

from asyncsgd.report.runs import load_sweep_view
from asyncsgd.reproduce import Plan
from asyncsgd.reproduce.candela2019 import STUDY
from asyncsgd.reproduce.candela2019.plan import RATE
from asyncsgd.reproduce.candela2019.rate import (
    CHECK,
    INSIDE,
    NO_FIT,
    SHALLOWER,
    STEEPER,
    fits,
    outcome,
    rate_section,
    reading,
    seed_slope,
    spacing_rows,
    verdict_row,
)
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.sweep import Outcome, ResultsDB

BUDGETS = (100, 196, 400, 784, 1600)


def power_law(exponent: float, noise: float = 0.0, seeds: int = 5) -> dict[int, list[tuple[float, float]]]:
    """``A_s(K) = C_s·K^exponent`` (a seed's own constant), times ``exp(noise·ε)`` per point."""
    rng = random.Random(7)
    return {
        s: [(k, (1 + s) * k**exponent * math.exp(noise * rng.gauss(0, 1))) for k in BUDGETS]
        for s in range(seeds)
    }


def test_an_exact_power_law_of_minus_half_is_recovered_and_read_as_the_bounds_rate():
    slope = seed_slope(power_law(-0.5), 0.1)
    assert slope is not None and slope.slope == pytest.approx(-0.5, abs=1e-12) and slope.n == 5
    assert slope.interval is not None and slope.interval[1] - slope.interval[0] < 1e-9
    assert reading(slope) == INSIDE


def test_with_noise_minus_half_stays_inside_the_interval():
    slope = seed_slope(power_law(-0.5, noise=0.1), 0.1)
    assert slope is not None and slope.interval is not None
    assert slope.interval[0] < -0.5 < slope.interval[1] and reading(slope) == INSIDE


@pytest.mark.parametrize(("exponent", "expected"), [(-0.3, SHALLOWER), (-0.8, STEEPER)])
def test_a_shallower_slope_contradicts_the_bound_and_a_steeper_one_does_not(exponent, expected):
    slope = seed_slope(power_law(exponent, noise=0.05), 0.1)
    assert slope is not None and slope.slope == pytest.approx(exponent, abs=0.05)
    assert reading(slope) == expected


def test_without_two_seeds_of_two_budgets_there_is_no_slope():
    assert seed_slope(power_law(-0.5, seeds=1), 0.1) is None
    assert seed_slope({0: [(100, 1.0)], 1: [(100, 2.0)]}, 0.1) is None
    assert reading(None) == NO_FIT


def decay(t: int) -> float:
    """The check run's ‖∇f(x_t)‖², evaluated after every update."""
    return 2.0 / (1 + t / 10)


EXPONENTS = {"downpour": -0.5, "topk-ef ratio=0.1": -0.8, "topk-ef ratio=0.01": -0.2}


def constructed(tmp_path) -> StudyResults:
    """The quick rate sweep with made-up summaries: each line its power law (EXPONENTS) with a
    little noise; one top-k run diverged (an infinite average)."""
    rng = random.Random(3)
    db_path = tmp_path / "made-up.db"
    sweep = dict(STUDY.sweeps(Plan("quick")))
    rate = next(s for p, s in sweep.items() if p.key == RATE)
    with ResultsDB(db_path) as db:
        db.save_sweep(rate)
        for run in rate.unique_runs():
            cfg = run.config
            if run.method == CHECK:
                metrics = [{"update": t, "grad_norm_sq": decay(t)} for t in range(cfg.updates + 1)]
                db.record(Outcome(run.run_id, "done", 0.0, 1.0, {"learners": 8}, metrics))
                continue
            line = run.method + (f" ratio={cfg.ratio:g}" if run.method != "downpour" else "")
            value = (1 + cfg.seed) * cfg.updates ** EXPONENTS[line] * math.exp(0.05 * rng.gauss(0, 1))
            if line == "topk-ef ratio=0.1" and cfg.seed == 0 and cfg.updates == 400:
                value = math.inf
            points = 2 * round(cfg.updates**0.5) + 1
            summary = {"learners": cfg.learners, "staleness": {"mean": 7.0, "max": 40},
                       "grad_norm_sq": {"final": value, "ergodic": value, "points": points}}  # fmt: skip
            db.record(Outcome(run.run_id, "done", 0.0, 1.0, summary))
        view = load_sweep_view(db, rate.name)
    return StudyResults(STUDY, Plan("quick"), str(db_path), {RATE: view}, tmp_path / "report")


def test_the_section_fits_every_line_and_the_verdict_row_flags_a_shallower_sparsifier(tmp_path):
    res = constructed(tmp_path)
    found = {f.line: f for f in fits(res)}
    assert set(found) == set(EXPONENTS)
    assert found["downpour"].reading == INSIDE and found["topk-ef ratio=0.1"].reading == STEEPER
    assert found["topk-ef ratio=0.01"].reading == SHALLOWER
    assert found["topk-ef ratio=0.1"].left_out == 1 and found["downpour"].left_out == 0
    assert outcome([found["topk-ef ratio=0.1"]]) == "consistent"
    row = verdict_row(res)
    assert row[3] == "contradicted" and "topk-ef ratio=0.1" in row[4] and "ratio=0.01" not in row[4]
    assert "K = 100 to 1600" in row[4]
    doc = Document("t")
    (tmp_path / "report").mkdir()
    rate_section(doc, res)
    md, _ = doc.write(tmp_path / "report")
    text = md.read_text()
    assert "c = lr·√K = 1 over the runs" in text and "is 0.5 at every K" in text
    assert "significantly shallower than −1/2: contradicts" in text
    assert (tmp_path / "report" / "01-rate.png").read_bytes()[:4] == b"\x89PNG"
    reference = sum(decay(t) for t in range(100)) / 100
    at_spacing = sum(decay(t) for t in range(0, 101, 5)) / 21
    at_default = sum(decay(t) for t in range(0, 101, 4)) / 26
    assert spacing_rows(res.view(RATE))[0] == pytest.approx((100, 1, reference, at_spacing / reference,
                                                             at_default / reference))  # fmt: skip
    assert (
        f"| 100 | 1 | {reference:.4f} | {at_spacing / reference:.3f} | {at_default / reference:.3f} |" in text
    )


@pytest.mark.parametrize("size", ["quick", "standard", "full"])
def test_every_size_runs_lr_c_over_root_k_over_a_decade_with_the_same_lr_between_evaluations(size):
    rate = next(s for p, s in STUDY.sweeps(Plan(size)) if p.key == RATE)
    runs = rate.runs
    check = [r for r in runs if r.method == CHECK]
    assert len(check) >= 2 and all(r.config.seed == 0 and r.config.learners == 8 for r in check)
    assert all(
        r.config.eval_every * 5 <= min(o.config.eval_every for o in runs if o.method != CHECK) for r in check
    )
    runs = [r for r in runs if r.method != CHECK]
    assert {r.method for r in runs} == {"downpour", "topk-ef"}
    assert {r.config.ratio for r in runs if r.method == "topk-ef"} == {0.1, 0.01}
    assert all(r.config.error_feedback for r in runs if r.method == "topk-ef")
    budgets = {r.config.updates for r in runs}
    assert max(budgets) >= 10 * min(budgets) and len(budgets) >= 5
    scaled = {r.config.lr * r.config.updates**0.5 for r in runs}
    assert max(scaled) - min(scaled) < 1e-5 * max(scaled), "lr = c/√K with one c"
    spacing = {r.config.lr * r.config.eval_every for r in runs}
    assert max(spacing) - min(spacing) < 1e-5 * max(spacing), "the same lr × updates between evaluations"
    assert all(r.config.updates % r.config.eval_every == 0 for r in runs), "the last update is evaluated"
    assert all(r.config.learners == 8 and r.config.delay == "exponential" for r in runs)
    assert all(r.config.eval_grad_norm for r in runs)
    seeds = {r.config.seed for r in runs}
    assert len(seeds) >= 3 and all(
        {r.config.seed for r in runs if r.config.updates == k and r.method == "downpour"} == seeds
        for k in budgets
    ), "every K at every seed: the seeds are paired across K"
