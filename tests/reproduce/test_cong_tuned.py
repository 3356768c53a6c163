"""cong2016 (h): rates chosen on the validation split, never on the test set, and EAMSGD − Downpour
judged paired by seed at the tuned rates and at the shared one (hand-made runs)."""

from __future__ import annotations

import pytest

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce.cong2016.tuned import choices, comparisons, findings, note, shared_rate
from asyncsgd.sweep.db import Member

DEFINITION = {"report": {"tunings": [{"key": "lr", "shared": 0.1}]}}


def run(method: str, p: int, lr: float, seed: int, val: float, test: float) -> RunView:
    point = {"learners": p, "lr": lr, "seed": seed}
    summary = {"final_val_accuracy": val, "final_test_accuracy": test}
    member = Member(
        0, method, method, point, f"{method}-{p}-{lr}-{seed}", "done", point, summary, "", 1, 0.0, 1.0
    )
    return RunView(member, [], [])


def grid(method: str, p: int, rates: dict[float, tuple[float, float]], seeds=(0, 1, 2), test_shift=0.0):
    """Runs at each rate: (validation, test) accuracy, the test one shifted by ``test_shift`` · seed."""
    return [
        run(method, p, lr, s, val, test + test_shift * s) for lr, (val, test) in rates.items() for s in seeds
    ]


def view(runs: list[RunView]) -> SweepView:
    return SweepView("s", "", DEFINITION, "", "", runs)


# Downpour: validation best at 0.3, test best at 0.1 (the choice must follow validation);
# EAMSGD: best at the grid's smallest rate.
RUNS = grid(
    "downpour", 4, {0.03: (0.80, 0.80), 0.1: (0.85, 0.95), 0.3: (0.90, 0.90), 1.0: (0.1, 0.1)}
) + grid("eamsgd", 4, {0.01: (0.92, 0.93), 0.03: (0.90, 0.90), 0.1: (0.88, 0.94)}, test_shift=0.001)


def test_the_rate_is_chosen_on_validation_and_a_choice_at_the_edge_is_flagged():
    assert shared_rate(view(RUNS)) == 0.1
    down, eam = choices(view(RUNS))
    assert down.group == ("downpour", 4) and down.value == 0.3 and not down.at_edge
    assert down.tested == pytest.approx((90.0,) * 3) and down.shared == pytest.approx((95.0,) * 3)
    assert eam.value == 0.01 and eam.at_edge and "edge" in note(eam)
    assert note(down) == "coarse grid"  # four values: fewer than five


def test_eamsgd_minus_downpour_is_paired_by_seed_at_the_shared_and_at_the_tuned_rates():
    chosen = choices(view(RUNS))
    shared, tuned = comparisons(view(RUNS), chosen)
    assert shared.rates == "shared" and shared.lr == (0.1, 0.1)
    # 94 + 0.1·s − 95: −1.0, −0.9, −0.8 points; the interval lies below 0 and reaches past −1
    assert shared.judgement.mean == pytest.approx(-0.9) and shared.judgement.n == 3
    assert shared.judgement.outcome == "worse"
    assert tuned.lr == (0.3, 0.01)
    # 93 + 0.1·s − 90: +3.0, +3.1, +3.2
    assert tuned.judgement.mean == pytest.approx(3.1) and tuned.judgement.outcome == "better"
    lines = findings(chosen, [shared, tuned])
    assert lines[0] == "The chosen rate lies at the edge of its grid for eamsgd at p = 4."
    assert "(**worse**)" in lines[1] and "(**better**)" in lines[1]


def test_without_runs_at_a_rate_the_comparison_is_not_judged():
    runs = [r for r in RUNS if r.setting("lr") != 0.1]
    shared, _ = comparisons(view(runs), choices(view(runs)))
    assert shared.judgement.n == 0 and "– points at the shared rate (–)" in findings([], [shared, _])[1]


def test_where_the_chosen_rates_are_the_shared_one_the_report_says_the_comparisons_coincide():
    runs = grid("downpour", 16, {0.03: (0.8, 0.8), 0.1: (0.9, 0.9), 0.3: (0.7, 0.7)}) + grid(
        "eamsgd", 16, {0.03: (0.8, 0.8), 0.1: (0.9, 0.91), 0.3: (0.7, 0.7)}
    )
    chosen = choices(view(runs))
    lines = findings(chosen, comparisons(view(runs), chosen))
    assert lines[1] == (
        "At p = 16 both methods' chosen rate is the shared rate 0.1, so there the comparison at the tuned "
        "rates is the one at the shared rate."
    )
    assert len(findings(choices(view(RUNS)), comparisons(view(RUNS), choices(view(RUNS))))) == 2
