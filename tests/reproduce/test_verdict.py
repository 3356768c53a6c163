"""The decision rule of the Candela et al. report, on constructed results: each outcome and claim."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from asyncsgd.reproduce import Plan, load_results, write_report
from asyncsgd.reproduce.candela2019 import CLAIMS, GRADIENT, PRIMARY, STUDY, claim, judge, statement
from asyncsgd.sweep import Outcome, ResultsDB

PLAN = Plan("quick", smoke=True)
Accuracy = Callable[[str, str, int], float]
"""(part, method, seed) → final test accuracy in [0, 1]."""


def constructed(tmp_path, accuracy: Accuracy, seeds: int | None = None):
    """A results database holding the smoke plan's runs with made-up summaries, read back."""
    db_path = tmp_path / "made-up.db"
    overrides = ["seed=0"] if seeds == 1 else []
    with ResultsDB(db_path) as db:
        for part, sweep in STUDY.sweeps(PLAN, overrides):
            db.save_sweep(sweep)
            for run in sweep.unique_runs():
                acc = accuracy(part.key, run.method, run.config.seed)
                summary = {
                    "final_test_accuracy": acc,
                    "grad_norm_sq": {"final": 0.1, "ergodic": math.exp(-8 * acc), "points": 5},
                }
                db.record(Outcome(run.run_id, "done", 0.0, 1.0, summary))
    return load_results(STUDY, PLAN, db_path, tmp_path / "report")


def noise(seed: int) -> float:
    return 0.02 * seed  # the same for every method: a paired difference removes it


def shifted(delays: float, fixed: float, alternatives: float = 0.0) -> Accuracy:
    """Top-k with error feedback ``delays``/``fixed`` above Downpour, the remedies ``alternatives``."""

    def accuracy(part: str, method: str, seed: int) -> float:
        base = 0.80 + noise(seed)
        if method == "topk-ef":
            return base + (delays if part == "delays" else fixed)
        if method in ("staleness-lr", "dc-asgd"):
            return base + alternatives
        return base

    return accuracy


@pytest.mark.parametrize(
    ("accuracy", "against_baseline", "against_alternatives", "key"),
    [
        (shifted(0.03, 0.03), "improves", "improves", "first"),
        (shifted(0.03, 0.03, alternatives=0.06), "improves", "harms", "first-vanilla"),
        (shifted(0.001, -0.001), "negligible", "negligible", "later"),
        (shifted(-0.03, -0.03), "harms", "harms", "neither-harms"),
        (shifted(0.03, -0.03), "mixed", "mixed", "neither-mixed"),
    ],
)
def test_each_outcome_of_the_rule_on_constructed_runs(
    tmp_path, accuracy, against_baseline, against_alternatives, key
):
    results = constructed(tmp_path, accuracy)
    v = judge(results, PRIMARY)
    # p = 2, 4 and τ = 4, 8, two top-k ratios each, against Downpour; and against two remedies
    assert len(v.against_baseline) == 8 and len(v.against_alternatives) == 16
    assert all(c.n == 2 for c in v.against_baseline)
    # the seeds' noise is shared, so the paired difference is the shift alone, without spread
    shift = 100 * (accuracy("delays", "topk-ef", 0) - accuracy("delays", "downpour", 0))
    first = v.against_baseline[0]
    assert first.diff == pytest.approx(shift) and first.se == pytest.approx(0.0, abs=1e-9)
    assert (v.baseline_rule, v.alternatives_rule, v.claim) == (against_baseline, against_alternatives, key)
    # the gradient-norm criterion falls with accuracy here, so it agrees
    assert judge(results, GRADIENT).claim == key
    md, _ = write_report(results)
    text = md.read_text()
    assert statement(v) in text and CLAIMS[key] in text
    assert "**The decision rule**" in text and f"(rule: *{against_baseline}*)" in text


def test_one_seed_gives_no_verdict(tmp_path):
    v = judge(constructed(tmp_path, shifted(0.03, 0.03), seeds=1))
    assert {c.outcome for c in v.against_baseline} == {"n/a"} and v.claim == "undecided"
    assert statement(v).startswith("No verdict")


def test_claims_follow_the_two_versions():
    assert claim("improves", "improves") == "first" and claim("improves", "mixed") == "first-vanilla"
    assert claim("negligible", "harms") == "later" and claim("harms", "improves") == "neither-harms"
    assert claim("mixed", "improves") == "neither-mixed" and claim("undecided", "undecided") == "undecided"
