"""Paired comparisons over seeds: the differences, their interval, and a verdict on them.

Two methods run with the same seed share the initial model, the data order and the delays, so the
difference of their scores ``d_s = a_s − b_s`` is the methods' alone; the seed-to-seed noise that
both share cancels. From the ``n`` differences: the mean ``d̄``, the standard error
``SE = stdev(d_s)/√n`` and the interval ``d̄ ± z·SE``. A comparison then decides **better**,
**worse** or **within noise** (:func:`decide`), and :func:`majority` turns many comparisons into
one verdict. :func:`judge` decides with Student's t and a margin stated before the runs, and can
say **equivalent** (no difference that matters: two one-sided tests, Schuirmann 1987) apart from
**inconclusive** (not enough data); :func:`seeds_needed` says how many seeds would settle an
inconclusive comparison if the spread stayed as measured. Scores are numbers where larger is better
(a caller turns "smaller is better" into a score first). Two estimates with their intervals serve
the rate and speed-up studies: :func:`loglog_slope` (the exponent of a power law, compared with a
stated one) and :func:`speedup` (a ratio of times to a target, paired by seed). Pure numbers in,
numbers out: nothing here reads a database or knows a study.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t

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


EQUIVALENT, INCONCLUSIVE = "equivalent", "inconclusive"
JUDGEMENTS = (BETTER, WORSE, EQUIVALENT, INCONCLUSIVE)
"""What :func:`judge` decides of one paired comparison."""


@dataclass(frozen=True)
class Judgement:
    """One comparison judged against ``margin`` at level ``alpha``: the outcome, and the
    ``1 − 2α`` interval ``d̄ ± t₁₋α,ₙ₋₁·SE`` it was read from (None below two pairs)."""

    outcome: str
    n: int
    mean: float | None
    interval: tuple[float, float] | None
    margin: float
    alpha: float


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(student_t.ppf(p, df))


def _outcome(low: float, high: float, margin: float) -> str:
    if -margin < low and high < margin:
        return EQUIVALENT
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return INCONCLUSIVE


def judge(d: PairedDifference, margin: float, alpha: float = 0.05) -> Judgement:
    """Better, worse, equivalent or inconclusive, read from the ``1 − 2α`` interval ``[L, U]``.

    **equivalent** when ``−margin < L`` and ``U < margin``: both one-sided tests of the two one-sided
    tests (TOST) reject a difference of ``margin`` or more at level ``α``; this comes first, so a
    difference too small to matter is equivalent even where it is also significant. Else **better**
    when ``L > 0`` and **worse** when ``U < 0`` (a one-sided t-test at level ``α``); else
    **inconclusive**, as is any comparison with fewer than two pairs."""
    if not (margin > 0 and 0 < alpha < 0.5):
        raise ValueError(f"need margin > 0 and 0 < alpha < 0.5, got margin={margin}, alpha={alpha}")
    mean, se = d.mean, d.se
    if mean is None or se is None:
        return Judgement(INCONCLUSIVE, d.n, mean, None, margin, alpha)
    half = t_quantile(1 - alpha, d.n - 1) * se
    low, high = mean - half, mean + half
    return Judgement(_outcome(low, high, margin), d.n, mean, (low, high), margin, alpha)


def seeds_needed(d: PairedDifference, margin: float, alpha: float = 0.05, most: int = 64) -> int | None:
    """The fewest pairs (at most ``most``) with which :func:`judge` would no longer say
    inconclusive, were the mean and spread of the differences to stay as measured; ``d.n`` if it
    says so already, None when even ``most`` would not do (or below two pairs: no spread yet)."""
    mean, se = d.mean, d.se
    if mean is None or se is None:
        return None
    sd = se * math.sqrt(d.n)
    for n in range(max(d.n, 2), most + 1):
        half = t_quantile(1 - alpha, n - 1) * sd / math.sqrt(n)
        if _outcome(mean - half, mean + half, margin) != INCONCLUSIVE:
            return n
    return None


@dataclass(frozen=True)
class Slope:
    """Least-squares fit of ``ln y = a + b·ln x``: the exponent ``b`` of a power law ``y ∝ x^b``,
    its standard error ``√(s²/Sxx)`` (``s² = Σ rᵢ²/(n − 2)``, ``Sxx = Σ (ln xᵢ − mean)²``) and the
    ``1 − α`` interval ``b ± t₁₋α/₂,ₙ₋₂·SE`` (both None below three points: two fix the line)."""

    slope: float
    intercept: float
    n: int
    se: float | None
    interval: tuple[float, float] | None
    alpha: float

    def includes(self, value: float) -> bool | None:
        """Whether ``value`` (a stated exponent, e.g. −1/2) lies in the interval; None without one."""
        if self.interval is None:
            return None
        return self.interval[0] <= value <= self.interval[1]


def loglog_slope(points: Sequence[tuple[float, float]], alpha: float = 0.05) -> Slope:
    """Fit a power law to ``(x, y)`` points; an ``x`` may repeat (one point per seed), and each
    point counts once, so seeds enter as replicates rather than as their mean."""
    if not 0 < alpha < 1:
        raise ValueError(f"need 0 < alpha < 1, got {alpha}")
    bad = [(x, y) for x, y in points if not (x > 0 and y > 0 and math.isfinite(x) and math.isfinite(y))]
    if bad:
        raise ValueError(f"a log-log fit needs finite positive x and y, got {bad[0]}")
    lx = [math.log(x) for x, _ in points]
    ly = [math.log(y) for _, y in points]
    n = len(lx)
    if len(set(lx)) < 2:
        raise ValueError("a slope needs at least two distinct x")
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((u - mx) ** 2 for u in lx)
    slope = sum((u - mx) * (v - my) for u, v in zip(lx, ly, strict=True)) / sxx
    intercept = my - slope * mx
    if n < 3:
        return Slope(slope, intercept, n, None, None, alpha)
    residuals = sum((v - intercept - slope * u) ** 2 for u, v in zip(lx, ly, strict=True))
    se = math.sqrt(residuals / (n - 2) / sxx)
    half = t_quantile(1 - alpha / 2, n - 2) * se
    return Slope(slope, intercept, n, se, (slope - half, slope + half), alpha)


@dataclass(frozen=True)
class Speedup:
    """``S(p) = T(base)/T(p)`` over the seeds that reached the target at both ``p`` and the base.

    With ``d_s = ln T_base,s − ln T_p,s`` (paired by seed, so the seed's shared luck cancels),
    ``S = exp(d̄)`` is the geometric mean of the per-seed ratios and the interval is the paired
    log-ratio interval ``exp(d̄ ± t₁₋α/₂,ₙ₋₁·SE(d̄))`` (None below two pairs); it is never
    symmetric about ``S`` and never reaches 0. ``missing``: seeds left out because either run never
    reached the target (or one side lacks the seed)."""

    learners: int
    value: float | None
    n: int
    interval: tuple[float, float] | None
    missing: int
    alpha: float


def speedup(
    base: Mapping[Hashable, float | None],
    other: Mapping[Hashable, float | None],
    learners: int,
    alpha: float = 0.05,
) -> Speedup:
    """The speed-up of ``other`` (times with ``learners`` learners) over ``base``, per seed; a time
    of None means the run never reached the target."""
    if not 0 < alpha < 1:
        raise ValueError(f"need 0 < alpha < 1, got {alpha}")
    logs = []
    for side in (base, other):
        if any(t is not None and not (t > 0 and math.isfinite(t)) for t in side.values()):
            raise ValueError(f"times to a target must be positive and finite, got {dict(side)}")
        logs.append({k: math.log(t) for k, t in side.items() if t is not None})
    d = paired(logs[0], logs[1])
    missing = len(set(base) | set(other)) - d.n
    if d.mean is None:
        return Speedup(learners, None, 0, None, missing, alpha)
    low_high = d.interval(t_quantile(1 - alpha / 2, d.n - 1)) if d.n >= 2 else None
    interval = None if low_high is None else (math.exp(low_high[0]), math.exp(low_high[1]))
    return Speedup(learners, math.exp(d.mean), d.n, interval, missing, alpha)


def speedups(times: Mapping[int, Mapping[Hashable, float | None]], alpha: float = 0.05) -> list[Speedup]:
    """``S(p)`` for every ``p`` in ``times`` (``p → seed → time``, None: target never reached),
    against the smallest ``p`` (one learner in a speed-up study), in increasing ``p``."""
    if not times:
        return []
    ps = sorted(times)
    return [speedup(times[ps[0]], times[p], p, alpha) for p in ps]
