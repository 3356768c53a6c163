"""The decision rule of the Candela et al. report, on constructed results: each outcome of a
comparison (better, worse, equivalent, inconclusive), the split by whether staleness hurts, the
claim each verdict supports, and the rule read from the study's decision file."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from asyncsgd.errors import ConfigError
from asyncsgd.reproduce import Plan, load_results, write_report
from asyncsgd.reproduce.candela2019 import (
    CLAIMS,
    GRADIENT,
    PRIMARY,
    STUDY,
    claim,
    judge,
    load_rule,
    parse_rule,
    statement,
    summary,
)
from asyncsgd.reproduce.candela2019.plan import AXES
from asyncsgd.reproduce.candela2019.verdict import comparisons
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.sweep import Outcome, ResultsDB

PLAN = Plan("quick", smoke=True)
Accuracy = Callable[[str, str, int], float]
"""(part, method, seed) → final test accuracy in [0, 1]."""
REFERENCES = ("sync", "sgd")


def constructed(tmp_path, accuracy: Accuracy):
    """A results database holding the smoke plan's runs (p = 2, 4; τ = 4, 8; seeds 0, 1) with
    made-up summaries, read back."""
    db_path = tmp_path / "made-up.db"
    with ResultsDB(db_path) as db:
        for part, sweep in STUDY.sweeps(PLAN):
            db.save_sweep(sweep)
            if part.key not in AXES:
                continue  # the parts outside the main verdict stay unrun
            for run in sweep.unique_runs():
                acc = accuracy(part.key, run.method, run.config.seed)
                summary_ = {
                    "final_test_accuracy": acc,
                    "grad_norm_sq": {"final": 0.1, "ergodic": math.exp(-8 * acc), "points": 5},
                }
                db.record(Outcome(run.run_id, "done", 0.0, 1.0, summary_))
    return load_results(STUDY, PLAN, db_path, tmp_path / "report")


def made(
    topk: dict[str, float],
    hurt: dict[str, float],
    spread: float = 0.0,
    alternatives: float = 0.0,
) -> Accuracy:
    """Top-k with error feedback ``topk[part]`` above Downpour (± ``spread`` by seed), the
    staleness-free reference ``hurt[part]`` above it (0 for a part they leave out), the remedies
    ``alternatives`` above it; the seeds' shared noise cancels in every paired difference."""

    def accuracy(part: str, method: str, seed: int) -> float:
        base = 0.80 + 0.02 * seed
        if method == "topk-ef":
            return base + topk.get(part, 0.0) + (spread if seed else -spread)
        if method in REFERENCES:
            return base + hurt.get(part, 0.0)
        if method in ("staleness-lr", "dc-asgd"):
            return base + alternatives
        return base

    return accuracy


def blank_figure(self: StudyResults, part: str, fig, runs=None) -> Path:
    """A figure's file, a blank 1×1 image instead of the plot: the report's text is the same."""
    from PIL import Image

    path = self.next_figure(fig.name)
    Image.new("P", (1, 1)).save(path)
    return path


BOTH = {"delays": 0.05, "fixed": 0.05}
NONE = {"delays": 0.0, "fixed": 0.0}


@pytest.mark.parametrize(
    ("accuracy", "hurts_rule", "elsewhere_rule", "key"),
    [
        (made({"delays": 0.03, "fixed": 0.001}, {"delays": 0.05, "fixed": 0.0}), "improves", "no effect",
         "first"),
        (made({"delays": 0.03, "fixed": 0.03}, BOTH, alternatives=0.06), "improves", "undecided",
         "first-vanilla"),
        (made({"delays": 0.001, "fixed": -0.001}, BOTH), "no effect", "undecided", "later"),
        (made({"delays": -0.03, "fixed": -0.03}, BOTH), "harms", "undecided", "neither-harms"),
        (made({"delays": 0.03, "fixed": -0.03}, BOTH), "mixed", "undecided", "neither-mixed"),
        (made({"delays": 0.01, "fixed": 0.01}, BOTH, spread=0.002), "not enough data", "undecided",
         "undecided"),
        (made({"delays": 0.03, "fixed": 0.03}, NONE), "undecided", "improves", "no-hurt"),
    ],
)  # fmt: skip
def test_each_verdict_of_the_rule_on_constructed_runs(tmp_path, monkeypatch, accuracy, hurts_rule,
                                                      elsewhere_rule, key):  # fmt: skip
    if key != "first":  # one case draws every figure of these runs; the others check the text alone
        monkeypatch.setattr(StudyResults, "figure", blank_figure)
    results = constructed(tmp_path, accuracy)
    v = judge(results, PRIMARY)
    # p = 2, 4 and τ = 4, 8, two top-k ratios each, against Downpour; and against two remedies
    assert len(v.against_baseline) == 8 and len(v.against_alternatives) == 16
    assert all(c.n == 2 for c in v.against_baseline)
    assert (v.hurts_rule, v.elsewhere_rule, v.claim) == (hurts_rule, elsewhere_rule, key)
    assert judge(results, GRADIENT).claim == key  # the gradient norm falls with accuracy here
    md, _ = write_report(results)
    text = md.read_text()
    opening = text.split("## Verdict")[1].split("##")[0]
    first_table = next(line for line in opening.splitlines() if line.startswith("|"))
    assert first_table.startswith("| claim | published wording |")  # the verdict table comes first
    assert statement(v) in opening and CLAIMS[key] in text
    assert "asyncsgd/reproduce/sweeps/candela2019/quick/decision.toml" in opening


def test_equivalent_inconclusive_and_better_apart(tmp_path):
    """The same +1 point is better when it does not vary by seed, inconclusive with a spread (and
    says how many seeds would settle it), and +0.1 is equivalent."""
    rule = load_rule("quick")
    res = constructed(tmp_path, made({"delays": 0.01, "fixed": 0.001}, BOTH, spread=0.002))
    found = {c.setting + c.method: c for c in comparisons(res.view("delays"), AXES["delays"], "topk-ef",
                                                          "downpour", rule)}  # fmt: skip
    one = found["p = 2topk-ef ratio=0.01"]
    assert one.diff == pytest.approx(1.0) and one.outcome == "inconclusive"
    assert one.seeds == 3 and one.needed(rule) == "3"  # sd 0.28: t(0.95, 2)·0.28/√3 < 1
    assert comparisons(res.view("fixed"), AXES["fixed"], "topk-ef", "downpour", rule)[0].outcome == (
        "inconclusive"
    )
    res = constructed(tmp_path / "b", made({"delays": 0.01, "fixed": 0.001}, BOTH))
    delays = comparisons(res.view("delays"), AXES["delays"], "topk-ef", "downpour", rule)
    fixed = comparisons(res.view("fixed"), AXES["fixed"], "topk-ef", "downpour", rule)
    assert {c.outcome for c in delays} == {"better"} and {c.outcome for c in fixed} == {"equivalent"}
    # the margin decides: with 0.05 points +0.1 is no longer equivalent but better
    narrow = replace(rule, margin=0.05)
    assert {c.outcome for c in comparisons(res.view("fixed"), AXES["fixed"], "topk-ef", "downpour",
                                           narrow)} == {"better"}  # fmt: skip


def test_the_hurt_settings_are_those_where_downpour_loses_more_than_the_stated_points(tmp_path):
    v = judge(constructed(tmp_path, made({"delays": 0.03, "fixed": 0.0}, {"delays": 0.006, "fixed": 0.004})))
    assert v.rule.hurts == 0.5
    assert v.costs == pytest.approx({"p = 2": 0.6, "p = 4": 0.6, "τ = 4": 0.4, "τ = 8": 0.4})
    assert v.hurt == {"p = 2", "p = 4"}
    hurt, other = v.split(v.against_baseline)
    assert {c.setting for c in hurt} == {"p = 2", "p = 4"} and {c.setting for c in other} == {
        "τ = 4",
        "τ = 8",
    }
    assert (v.hurts_rule, v.elsewhere_rule) == ("improves", "no effect")


def test_the_rule_is_read_from_the_decision_file():
    for size in ("quick", "full"):
        rule = load_rule(size)
        assert (rule.margin, rule.alpha, rule.hurts, rule.max_seeds) == (0.5, 0.05, 0.5, 20)
        assert rule.source == f"asyncsgd/reproduce/sweeps/candela2019/{size}/decision.toml"
        assert rule.log_gradient_margin == pytest.approx(math.log(1.1))
    good = {"margin": 0.5, "gradient_margin": 0.1, "alpha": 0.05, "hurts": 0.5, "max_seeds": 20}
    for key, bad, words in [("alpha", 0.6, "alpha"), ("margin", 0, "margin"), ("max_seeds", 1.5, "max_seeds"),
                            ("typo", 1, "unknown key")]:  # fmt: skip
        with pytest.raises(ConfigError, match=words):
            parse_rule({**good, key: bad}, "here")


def test_summaries_and_claims():
    assert summary(["better", "better", "inconclusive"]) == "improves"
    assert summary(["equivalent", "equivalent", "inconclusive"]) == "no effect"
    assert summary(["equivalent", "equivalent", "better"]) == "mixed"
    assert summary(["inconclusive", "inconclusive", "equivalent"]) == "not enough data"
    assert summary([]) == "undecided"
    assert claim("improves", "improves") == "first" and claim("improves", "mixed") == "first-vanilla"
    assert claim("no effect", "harms") == "later" and claim("harms", "improves") == "neither-harms"
    assert claim("mixed", "improves") == "neither-mixed" and claim("not enough data", "x") == "undecided"
    assert claim("undecided", "undecided") == "no-hurt"
