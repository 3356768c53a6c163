"""cong2016's speed-up, Lian's conditions and the momentum table, on hand-made sweeps: numbers a
reader can check by hand."""

from __future__ import annotations

import math

import pytest

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce.cong2016.momentum import difference, findings, groups
from asyncsgd.reproduce.cong2016.opening import against
from asyncsgd.reproduce.cong2016.speedup import (
    failures,
    interval_text,
    measured_speedups,
    target_of,
    theory_checks,
)
from asyncsgd.stats import BETTER, INCONCLUSIVE
from asyncsgd.sweep.db import Member
from asyncsgd.theory.bound import delay_checks


def run(method: str, p: int, seed: int, time_to: float | None, *, lr: float = 0.1, extra=None) -> RunView:
    """A run with p learners whose test accuracy first reaches 0.85 at simulated time ``time_to``
    (after ``p * time_to`` updates: p learners, each one gradient per second)."""
    point = {"learners": p, "seed": seed, **(extra or {})}
    summary = {
        "lr": lr,
        "final_test_accuracy": 0.9 if time_to is not None else 0.5,
        "staleness": {"p95": 2.0 * p, "max": 4 * p},
        "lr_source": {"prediction": {"alpha": 9.0, "inputs": {"lipschitz": 2.0}}},
    }
    member = Member(0, method, method, point, f"{method}-{p}-{seed}", "done", point, summary, "", 1, 0.0, 1.0)
    metrics = [{"update": 0.0, "time": 0.0, "test_accuracy": 0.1}]
    if time_to is not None:
        metrics.append({"update": p * time_to, "time": time_to, "test_accuracy": 0.86})
    return RunView(member, metrics, [])


def view(runs: list[RunView], measures=("engine_seconds_to:0.85",)) -> SweepView:
    definition = {"report": {"tables": [{"measures": list(measures)}]}}
    return SweepView("s", "", definition, "", "", runs)


def test_the_target_is_the_one_the_sweep_file_names():
    assert target_of(view([], ["test_accuracy", "engine_seconds_to:0.7"])) == 0.7


def test_speedups_are_paired_by_seed_and_the_cost_is_updates_over_those_of_one_learner():
    # p = 1 takes 100 and 120 s; p = 4 takes 50 and 40 s: S = geometric mean of 2 and 3
    runs = [run("practical", 1, 0, 100.0), run("practical", 1, 1, 120.0),
            run("practical", 4, 0, 50.0), run("practical", 4, 1, 40.0),
            run("practical", 8, 0, None), run("practical", 8, 1, 30.0)]  # fmt: skip
    s, cost = measured_speedups(view(runs), "practical", 0.85)
    assert [x.learners for x in s] == [1, 4, 8]
    assert s[1].value == pytest.approx(math.sqrt(6.0)) and s[1].n == 2 and s[1].interval is not None
    assert s[2].value == pytest.approx(4.0) and s[2].n == 1 and s[2].missing == 1
    # K_4 / K_1 = 4 t_4 / t_1: 2 and 4/3 per seed
    assert cost[1].value == pytest.approx(math.sqrt(2.0 * 4.0 / 3.0))
    assert cost[0].value == pytest.approx(1.0)


def test_lian_s_conditions_use_alpha_and_l_of_the_predicted_runs_and_the_measured_staleness():
    runs = [run("practical", 8, 0, 10.0, lr=0.1), run("predicted", 8, 0, 10.0, lr=0.01)]
    alpha, checks = theory_checks(view(runs), "practical", 8)
    assert alpha == 9.0
    assert [c.label for c in checks] == ["T = p", "T = τ p95", "T = τ max"]
    assert [c.delay for c in checks] == [8.0, 16.0, 32.0]
    assert checks == delay_checks(9.0, 2.0 * 0.1, 8, 16.0, 32.0)
    # α = 9 < 2(8 + 1) = 18, and u = 0.2 gives 0.2 + 2·64·0.04 = 5.32 > 1: both fail at T = p
    assert checks[0].fails == ("α ≥ 2(T+1)", "constraint (2)")
    assert failures(checks).startswith("T = p: α ≥ 2(T+1), constraint (2); T = τ p95:")
    assert (
        theory_checks(view([run("practical", 8, 0, 1.0)]), "practical", 8) is None
    )  # no α without lr = auto


def test_the_momentum_table_has_a_row_per_eamsgd_setting_and_paired_differences_in_points():
    runs = [run("downpour", 8, s, 1.0) for s in (0, 1)]
    runs += [run("eamsgd", 8, s, None, extra={"elastic_alpha": a, "exchange_period": 4})
             for a in (0.1, 0.5) for s in (0, 1)]  # fmt: skip
    rows = groups(view(runs))
    assert [name for name, _ in rows] == [
        "Downpour, no momentum",
        "EAMSGD α = 0.1, τ_c = 4, δ = 0.9",
        "EAMSGD α = 0.5, τ_c = 4, δ = 0.9",
    ]
    assert all(len(members) == 2 for _, members in rows)
    # 50% against 90% for both seeds: −40 points, no spread
    assert difference(rows[1][1], rows[0][1]) == "-40.0 [-40.0, -40.0] (n = 2)"


def test_the_momentum_findings_name_the_best_eamsgd_setting_and_leave_the_baseline_out():
    base = [run("downpour", 8, s, 1.0) for s in (0, 1)]
    plain = [run("downpour-momentum", 8, s, None) for s in (0, 1)]
    eam = [run("eamsgd", 8, s, 1.0, extra={"elastic_alpha": 0.2, "exchange_period": 4}) for s in (0, 1)]
    rows = groups(view(base + plain + eam))
    text = findings(rows, base)
    assert text[0] == (
        "Best EAMSGD setting: EAMSGD α = 0.2, τ_c = 4, δ = 0.9, 90.0%; against Downpour, no "
        "momentum: +0.0 [+0.0, +0.0] (n = 2) points."
    )
    assert text[1:] == [
        "Downpour, server momentum 0.9: 50.0%; against Downpour, no momentum: "
        "-40.0 [-40.0, -40.0] (n = 2) points."
    ]


def test_seeds_that_reach_the_target_at_the_same_evaluation_give_an_interval_as_wide_as_the_grid():
    # every seed: 100 updates with one learner, 100 with two (50 s): K_2/K_1 = 1 exactly, S(2) = 2
    grid = {"eval_every": 10}
    runs = [run("practical", p, seed, 100.0 / p, extra=grid) for p in (1, 2) for seed in range(3)]
    s, cost = measured_speedups(view(runs), "practical", 0.85)
    assert cost[1].value == pytest.approx(1.0) and cost[1].interval == pytest.approx((0.9, 1 / 0.9))
    assert cost[0].interval == s[0].interval == (1.0, 1.0)  # one learner against itself: exactly 1
    assert s[1].value == pytest.approx(2.0) and s[1].interval == pytest.approx((1.8, 2 / 0.9))
    assert against(cost[1].interval, 1.07, larger_is_better=False) == INCONCLUSIVE
    # without the grid it would have been called better than the bound's 1.07
    assert against((1.0, 1.0), 1.07, larger_is_better=False) == BETTER


def test_a_target_reached_at_the_first_evaluation_leaves_the_interval_open():
    grid = {"eval_every": 20}
    times = ((0, 20.0), (1, 40.0))
    runs = [run("practical", p, seed, t / p, extra=grid) for p in (1, 2) for seed, t in times]
    _, cost = measured_speedups(view(runs), "practical", 0.85)
    assert cost[1].interval is not None and cost[1].interval[0] == 0.0 and math.isinf(cost[1].interval[1])
    assert interval_text(cost[1]).startswith("1.00 [0.00, ∞]")
