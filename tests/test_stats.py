"""Paired differences, their interval and the decisions on them, on numbers checked by hand."""

from __future__ import annotations

import math

import pytest

from asyncsgd.stats import OUTCOMES, VERDICTS, PairedDifference, decide, majority, paired


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
