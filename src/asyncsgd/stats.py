"""Paired comparisons over seeds: the differences, their interval, and a verdict on them.

Two methods run with the same seed share the initial model, the data order and the delays, so the
difference of their scores ``d_s = a_s − b_s`` is the methods' alone; the seed-to-seed noise that
both share cancels. From the ``n`` differences: the mean ``d̄``, the standard error
``SE = stdev(d_s)/√n`` and the interval ``d̄ ± z·SE``. A comparison then decides **better**,
**worse** or **within noise** (:func:`decide`), and :func:`majority` turns many comparisons into
one verdict. Scores are numbers where larger is better (a caller turns "smaller is better" into a
score first). Pure numbers in, numbers out: nothing here reads a database or knows a study.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

BETTER, WORSE, WITHIN_NOISE, NOT_AVAILABLE = "better", "worse", "within noise", "n/a"
OUTCOMES = (BETTER, WORSE, WITHIN_NOISE, NOT_AVAILABLE)
"""What one paired comparison can decide (``n/a``: fewer than two pairs)."""


@dataclass(frozen=True)
class PairedDifference:
    """The differences ``a_s − b_s`` over the keys (seeds) both sides have, in key order."""

    keys: tuple[Hashable, ...]
    diffs: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def mean(self) -> float | None:
        """``d̄``; the single difference with one pair, None with none."""
        if not self.diffs:
            return None
        return self.diffs[0] if self.n == 1 else statistics.fmean(self.diffs)

    @property
    def se(self) -> float | None:
        """Standard error of ``d̄``: the sample standard deviation of ``d_s`` over ``√n`` (None
        below two pairs: one difference says nothing about its spread)."""
        if self.n < 2:
            return None
        return statistics.stdev(self.diffs) / math.sqrt(self.n)

    def interval(self, z: float) -> tuple[float, float] | None:
        """``d̄ ± z·SE`` (None below two pairs)."""
        mean, se = self.mean, self.se
        if mean is None or se is None:
            return None
        return mean - z * se, mean + z * se


def paired(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> PairedDifference:
    """Pair ``a`` and ``b`` by key (seed); a key only one side has is left out."""
    keys = tuple(sorted(set(a) & set(b)))  # type: ignore[type-var]
    return PairedDifference(keys, tuple(a[k] - b[k] for k in keys))


def decide(d: PairedDifference, z: float, margin: float) -> str:
    """**better** if ``d̄ > max(z·SE, margin)``, **worse** if ``d̄ < −max(z·SE, margin)``, else
    **within noise**; ``n/a`` below two pairs. Beyond ``z·SE`` means the interval ``d̄ ± z·SE``
    leaves out zero; the margin makes a difference too small to matter negligible even then."""
    mean, se = d.mean, d.se
    if mean is None or se is None:
        return NOT_AVAILABLE
    bar = max(z * se, margin)
    return BETTER if mean > bar else WORSE if mean < -bar else WITHIN_NOISE


VERDICTS = {
    "improves": "better beyond the noise in a majority of the comparisons and worse in none",
    "harms": "worse beyond the noise in a majority of the comparisons and better in none",
    "negligible": "within the noise in a majority of the comparisons",
    "mixed": "none of the above",
    "undecided": "no comparison had two seeds",
}
"""What :func:`majority` says of a set of comparisons, and when."""


def majority(outcomes: Sequence[str]) -> str:
    """The majority rule over comparisons (``n/a`` ones left out); a key of :data:`VERDICTS`."""
    counted = [o for o in outcomes if o != NOT_AVAILABLE]
    if not counted:
        return "undecided"
    n, better, worse = len(counted), counted.count(BETTER), counted.count(WORSE)
    if better > n / 2 and worse == 0:
        return "improves"
    if worse > n / 2 and better == 0:
        return "harms"
    if counted.count(WITHIN_NOISE) > n / 2:
        return "negligible"
    return "mixed"
