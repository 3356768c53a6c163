"""Paired differences, their interval and the decisions on them, on numbers checked by hand."""

from __future__ import annotations

import math

import pytest

from asyncsgd.stats import (
    BETTER,
    EQUIVALENT,
    INCONCLUSIVE,
    OUTCOMES,
    VERDICTS,
    WORSE,
    PairedDifference,
    decide,
    judge,
    loglog_slope,
    majority,
    paired,
    seeds_needed,
    speedup,
    speedups,
    t_quantile,
)


def test_differences_are_paired_by_key_and_only_shared_keys_count():
    d = paired({3: 10.0, 1: 5.0, 7: 99.0}, {1: 4.0, 3: 6.0, 8: -1.0})
    assert d.keys == (1, 3) and d.diffs == (1.0, 4.0) and d.n == 2


def test_mean_standard_error_and_interval_by_hand():
    # d = 2, 4: mean 3, sample std √2, SE = √2/√2 = 1, so 3 ± 2·1 = (1, 5)
    d = paired({0: 12.0, 1: 14.0}, {0: 10.0, 1: 10.0})
    assert d.mean == 3.0 and d.se == pytest.approx(1.0)
    assert d.interval(2.0) == pytest.approx((1.0, 5.0))
    # d = 1, 2, 3: mean 2, sample std 1, SE = 1/√3
    d = PairedDifference((0, 1, 2), (1.0, 2.0, 3.0))
    assert d.mean == 2.0 and d.se == pytest.approx(1 / math.sqrt(3))
    assert d.interval(1.0) == pytest.approx((2 - 1 / math.sqrt(3), 2 + 1 / math.sqrt(3)))


def test_one_pair_has_a_mean_but_no_spread_and_none_has_neither():
    one = paired({0: 81.0, 7: 90.0}, {0: 80.0, 1: 70.0})
    assert (one.mean, one.se, one.interval(2.0), one.n) == (1.0, None, None, 1)
    none = paired({0: 1.0}, {1: 1.0})
    assert (none.mean, none.se, none.n) == (None, None, 0)
    assert decide(one, 2.0, 0.0) == decide(none, 2.0, 0.0) == "n/a"


@pytest.mark.parametrize(
    ("diffs", "z", "margin", "expected"),
    [
        ((2.0, 4.0), 2.0, 0.5, "better"),  # 3 > max(2·1, 0.5)
        ((-2.0, -4.0), 2.0, 0.5, "worse"),
        ((2.0, 4.0), 4.0, 0.5, "within noise"),  # 3 < 4·1: the interval holds zero
        ((2.0, 4.0), 2.0, 3.5, "within noise"),  # beyond the noise, below the margin
        ((3.0, 3.0), 2.0, 0.5, "better"),  # no spread: the margin alone decides
        ((0.3, 0.3), 2.0, 0.5, "within noise"),
    ],
)
def test_decide_needs_the_mean_beyond_both_the_noise_and_the_margin(diffs, z, margin, expected):
    assert decide(PairedDifference(tuple(range(len(diffs))), diffs), z, margin) == expected


def test_the_same_mean_difference_with_more_spread_is_within_noise():
    base = {0: 80.0, 1: 80.0, 2: 80.0}
    assert decide(paired({0: 81.0, 1: 83.0, 2: 82.0}, base), 2.0, 0.5) == "better"  # SE 0.58
    assert decide(paired({0: 82.0, 1: 78.5, 2: 82.5}, base), 2.0, 0.5) == "within noise"  # SE 1.26


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["better"] * 3 + ["within noise"] * 2, "improves"),
        (["better"] * 3 + ["worse"], "mixed"),
        (["worse"] * 3 + ["n/a"] * 5, "harms"),
        (["within noise"] * 3 + ["better"] * 2, "negligible"),
        (["within noise"] * 2 + ["better"] * 2, "mixed"),
        (["n/a"], "undecided"),
        ([], "undecided"),
    ],
)
def test_majority_is_the_stated_rule(outcomes, expected):
    assert majority(outcomes) == expected
    assert expected in VERDICTS and set(outcomes) <= set(OUTCOMES)


# Student's t, from printed tables: t(0.95, 4) = 2.132, t(0.95, 9) = 1.833, t(0.975, 4) = 2.776
@pytest.mark.parametrize(("p", "df", "table"), [(0.95, 4, 2.132), (0.95, 9, 1.833), (0.975, 4, 2.776)])
def test_t_quantiles_match_the_printed_table(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=5e-4)


def diffs(*values: float) -> PairedDifference:
    return PairedDifference(tuple(range(len(values))), values)


def test_judge_reads_the_ninety_percent_interval_by_hand():
    # d = 1..5: mean 3, sd √2.5 = 1.5811, SE 0.7071; t(0.95, 4) = 2.1318: 3 ± 1.5075 → (1.4925, 4.5075)
    j = judge(diffs(1, 2, 3, 4, 5), margin=0.5)
    assert j.outcome == BETTER and j.n == 5 and j.mean == 3
    assert j.interval == pytest.approx((1.4925, 4.5075), abs=1e-4)
    assert judge(diffs(-1, -2, -3, -4, -5), margin=0.5).outcome == WORSE


def test_equivalent_needs_the_whole_interval_inside_the_margin():
    # d = ±0.1, ±0.2, 0: mean 0, sd 0.1581, SE 0.0707; half-width 2.1318·0.0707 = 0.1508
    tight = diffs(0.1, -0.1, 0.2, -0.2, 0.0)
    assert judge(tight, margin=0.5).outcome == EQUIVALENT
    assert judge(tight, margin=0.15).outcome == INCONCLUSIVE  # 0.1508 > 0.15: one end outside
    assert judge(tight, margin=0.16).outcome == EQUIVALENT
    # a significant difference too small to matter is equivalent, not better
    assert judge(diffs(0.10, 0.11, 0.12, 0.13, 0.14), margin=0.5).outcome == EQUIVALENT
    assert judge(diffs(0.10, 0.11, 0.12, 0.13, 0.14), margin=0.05).outcome == BETTER


def test_wide_spread_or_too_few_pairs_is_inconclusive_not_equivalent():
    assert judge(diffs(1, -1, 2, -2, 0), margin=0.5).outcome == INCONCLUSIVE
    assert (
        judge(diffs(0.0), margin=0.5).outcome == INCONCLUSIVE and judge(diffs(), margin=0.5).interval is None
    )
    with pytest.raises(ValueError, match="margin"):
        judge(diffs(1, 2), margin=0)


def test_seeds_needed_is_where_the_interval_would_first_decide():
    wide = diffs(1, -1, 2, -2, 0)  # mean 0, sd √2.5: equivalence needs t(0.95, n−1)·1.5811/√n < 0.5
    n = seeds_needed(wide, margin=0.5)
    assert n is not None and n > 5
    sd = math.sqrt(2.5)
    assert (
        t_quantile(0.95, n - 1) * sd / math.sqrt(n) < 0.5 <= t_quantile(0.95, n - 2) * sd / math.sqrt(n - 1)
    )
    assert seeds_needed(wide, margin=0.5, most=n - 1) is None
    assert seeds_needed(diffs(1, 2, 3, 4, 5), margin=0.5) == 5  # decided already
    assert seeds_needed(diffs(3.0), margin=0.5) is None


def test_exact_power_laws_give_their_exponent_with_no_spread():
    for b in (-0.5, -1.0, 2.0):
        fit = loglog_slope([(x, 3.0 * x**b) for x in (10, 100, 1000, 10000)])
        assert fit.slope == pytest.approx(b, abs=1e-12) and fit.intercept == pytest.approx(math.log(3.0))
        assert fit.se == pytest.approx(0.0, abs=1e-12) and fit.n == 4
        assert fit.includes(b) and not fit.includes(b + 0.01)


def test_noisy_slope_standard_error_and_interval_by_hand():
    # ln x = 0, 1, 2, 3; ln y = 0, −1, −1, −2: Sxx = 5, Sxy = −3, b = −0.6, a = −0.1; residuals
    # 0.1, −0.3, 0.3, −0.1, s² = 0.2/2, SE = √(0.1/5); t(0.975, 2) = 4.302653
    fit = loglog_slope([(math.exp(u), math.exp(v)) for u, v in ((0, 0), (1, -1), (2, -1), (3, -2))])
    assert fit.slope == pytest.approx(-0.6) and fit.intercept == pytest.approx(-0.1)
    assert fit.se == pytest.approx(math.sqrt(0.02))
    half = 4.302653 * math.sqrt(0.02)
    assert fit.interval == pytest.approx((-0.6 - half, -0.6 + half), abs=1e-6)
    assert fit.includes(-0.5) and fit.includes(0.0) and not fit.includes(-1.25)
    two = loglog_slope([(1.0, 1.0), (math.e, math.exp(-1))])
    assert two.slope == pytest.approx(-1.0) and two.interval is None and two.includes(-1.0) is None


def test_repeated_x_count_as_replicates():
    # two seeds per x, symmetric about the line ln y = −ln x: slope −1, residuals ±0.1
    points = [(math.exp(u), math.exp(-u + e)) for u in (0, 1, 2) for e in (0.1, -0.1)]
    fit = loglog_slope(points)
    assert fit.n == 6 and fit.slope == pytest.approx(-1.0)
    # s² = 6·0.01/4, Sxx = 2·(1 + 0 + 1) = 4
    assert fit.se == pytest.approx(math.sqrt(0.015 / 4))


@pytest.mark.parametrize(
    "points", [[(1.0, 1.0), (2.0, 0.0), (3.0, 1.0)], [(2.0, 1.0), (2.0, 3.0)], [(-1.0, 1.0), (2.0, 1.0)]]
)
def test_slope_refuses_what_has_no_log_or_no_spread_in_x(points):
    with pytest.raises(ValueError):
        loglog_slope(points)


def test_speedup_is_the_paired_log_ratio_by_hand():
    # per-seed ratios 4, 4, 2: d = (2, 2, 1)·ln 2, mean (5/3)·ln 2, SE = ln 2/3, t(0.975, 2) = 4.302653
    one = {0: 8.0, 1: 16.0, 2: 4.0, 3: None}
    four = {0: 2.0, 1: 4.0, 2: 2.0, 3: 1.0}
    s = speedup(one, four, 4)
    assert s.learners == 4 and s.n == 3 and s.missing == 1
    assert s.value == pytest.approx(2 ** (5 / 3))
    assert s.interval == pytest.approx((2 ** (5 / 3 - 4.302653 / 3), 2 ** (5 / 3 + 4.302653 / 3)), rel=1e-6)
    same = speedup({0: 6.0, 1: 3.0}, {0: 2.0, 1: 1.0}, 2)
    assert same.value == pytest.approx(3.0) and same.interval == pytest.approx((3.0, 3.0))


def test_speedups_take_the_smallest_p_as_base_and_say_when_nothing_is_paired():
    out = speedups({4: {0: 5.0, 1: 5.0}, 1: {0: 20.0, 1: 10.0}, 2: {0: None, 1: None}})
    assert [s.learners for s in out] == [1, 2, 4]
    assert out[0].value == pytest.approx(1.0)
    assert out[1].value is None and out[1].interval is None and out[1].missing == 2
    assert out[2].value == pytest.approx(math.sqrt(8.0)) and out[2].n == 2
    assert speedup({0: 4.0}, {0: 2.0}, 2).interval is None
    with pytest.raises(ValueError):
        speedup({0: 0.0}, {0: 1.0}, 2)
