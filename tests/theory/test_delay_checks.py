"""Lian's two conditions for a run, with T = p and with its measured staleness, on hand numbers."""

from __future__ import annotations

import pytest

from asyncsgd.theory.bound import Constants, delay_checks, guarantee_ratio, speedup_threshold, u_max
from asyncsgd.theory.render import bound_dict


def test_each_delay_bound_is_checked_against_both_conditions_by_hand():
    # α = 20, u = 0.05: 2(T+1) = 18, 14, 34; u + 2T²u² = 0.05 + 0.005·T² = 0.37, 0.23, 1.33
    checks = delay_checks(20.0, 0.05, learners=8, tau_p95=6, tau_max=16)
    assert [c.label for c in checks] == ["T = p", "T = τ p95", "T = τ max"]
    assert [c.threshold for c in checks] == [18.0, 14.0, 34.0]
    assert [c.speedup for c in checks] == [True, True, False]
    assert [c.constraint for c in checks] == pytest.approx([0.37, 0.23, 1.33])
    assert [c.feasible for c in checks] == [True, True, False]
    assert [c.fails for c in checks] == [(), (), ("α ≥ 2(T+1)", "constraint (2)")]
    assert checks[0].ratio == pytest.approx(guarantee_ratio(8, 20.0), rel=1e-15)
    assert checks[1].ratio < checks[0].ratio < checks[2].ratio  # a longer delay, a weaker guarantee


def test_a_delay_not_measured_is_left_out_and_the_boundary_counts_as_feasible():
    only_p = delay_checks(3.0, u_max(4), learners=4)
    assert [c.label for c in only_p] == ["T = p"]
    assert only_p[0].feasible and only_p[0].fails == ("α ≥ 2(T+1)",)
    assert speedup_threshold(4) == 10.0


def test_constants_check_at_their_rate_and_agree_with_what_theory_bound_reports():
    # α = √(K σ_M² / (L D_f)) = √(800·1/(2·1)) = 20; lr = 0.025 is u = L·lr = 0.05
    c = Constants(d_f=1.0, lipschitz=2.0, sigma2_update=1.0, updates=800)
    checks = c.delay_checks(0.025, learners=8, tau_max=16)
    assert [c_.constraint for c_ in checks] == pytest.approx([0.37, 1.33])
    for check in checks:
        reported = bound_dict(c, 0.025, check.delay, 8)
        assert reported["constraint"] == pytest.approx(check.constraint)
        assert reported["feasible"] == check.feasible
        assert reported["linear_speedup"]["holds"] == check.speedup
        assert reported["ratio"] == pytest.approx(check.ratio)
