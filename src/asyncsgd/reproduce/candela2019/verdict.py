"""The decision rule: top-k with error feedback against Downpour and against the staleness
remedies, paired by seed in every setting (:mod:`asyncsgd.stats`), a majority verdict over the
settings, and which version's claim that verdict supports (:func:`claim`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from asyncsgd.report.runs import SweepView
from asyncsgd.reproduce.candela2019.numbers import lines, scores, values
from asyncsgd.reproduce.candela2019.plan import ALTERNATIVES, AXES, BASELINE, SPARSIFIED, Axis
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.stats import PairedDifference, decide, majority, paired

Z = 2.0
"""A difference counts when it exceeds this many standard errors of the paired mean difference..."""


@dataclass(frozen=True)
class Criterion:
    """A per-run measure the rule compares, turned into a score where larger is better."""

    measure: str
    title: str
    unit: str
    margin: float
    """...and this margin on the score: a smaller difference is negligible in practice."""
    score: Callable[[float], float | None]


PRIMARY = Criterion("test_accuracy", "final test accuracy", "points", 0.5, lambda v: v)
GRADIENT = Criterion(
    "grad_norm_sq_ergodic", "ergodic average of ‖∇f(x_t)‖²", "ln of the ratio, positive: smaller",
    math.log(1.1), lambda v: -math.log(v) if v > 0 else None,
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """Method A against method B in one setting, paired by seed (same seed: same initial model,
    data order and delays, so the difference is the methods' alone)."""

    setting: str
    method: str
    against: str
    difference: PairedDifference
    outcome: str

    @property
    def diff(self) -> float | None:
        return self.difference.mean

    @property
    def se(self) -> float | None:
        return self.difference.se

    @property
    def n(self) -> int:
        return self.difference.n

    def text(self, digits: int = 2) -> str:
        if self.diff is None:
            return "–"
        se = "" if self.se is None else f" ± {self.se:.{digits}f}"
        return f"{self.diff:+.{digits}f}{se} ({self.outcome})"


def comparisons(view: SweepView, axis: Axis, method: str, against: str, criterion: Criterion = PRIMARY
                ) -> list[Comparison]:  # fmt: skip
    """Every line of ``method`` (each ratio) against ``against``, at each setting."""
    out = []
    for value in values(view, axis):
        base = scores(view, axis, against, value, criterion.measure, criterion.score)
        for line in lines(view):
            if line.split(" ")[0] != method:
                continue
            d = paired(scores(view, axis, line, value, criterion.measure, criterion.score), base)
            out.append(Comparison(axis.label(value), line, against, d, decide(d, Z, criterion.margin)))
    return out


CLAIMS = {
    "first": "the first version's claim",
    "first-vanilla": "the first version's claim against vanilla SGD only",
    "later": "the later version's claim",
    "neither-harms": "neither claim: sparsification harms",
    "neither-mixed": "neither claim: the effect depends on the setting",
    "undecided": "no claim (too few seeds)",
}


def claim(against_baseline: str, against_alternatives: str) -> str:
    """Which version's claim the two verdicts support (a key of :data:`CLAIMS`): v1 needs top-k
    with error feedback to improve over Downpour *and* over the alternatives; the later version
    needs its effect against Downpour to be negligible."""
    if against_baseline == "improves":
        return "first" if against_alternatives == "improves" else "first-vanilla"
    if against_baseline == "negligible":
        return "later"
    if against_baseline == "harms":
        return "neither-harms"
    if against_baseline == "mixed":
        return "neither-mixed"
    return "undecided"


@dataclass(frozen=True)
class Verdict:
    """The rule applied over both sweeps for one criterion."""

    criterion: Criterion
    against_baseline: list[Comparison]
    against_alternatives: list[Comparison]

    @property
    def baseline_rule(self) -> str:
        return majority([c.outcome for c in self.against_baseline])

    @property
    def alternatives_rule(self) -> str:
        return majority([c.outcome for c in self.against_alternatives])

    @property
    def claim(self) -> str:
        return claim(self.baseline_rule, self.alternatives_rule)


def views(res: StudyResults) -> list[tuple[SweepView, Axis]]:
    """Both sweeps, each with its axis."""
    return [(res.view(part), axis) for part, axis in AXES.items()]


def judge(res: StudyResults, criterion: Criterion = PRIMARY) -> Verdict:
    """Top-k with error feedback against Downpour and against the alternatives, in every setting."""
    both = views(res)
    base = [c for v, a in both for c in comparisons(v, a, SPARSIFIED, BASELINE, criterion)]
    alts = [c for v, a in both for alt in ALTERNATIVES for c in comparisons(v, a, SPARSIFIED, alt, criterion)]
    return Verdict(criterion, base, alts)
