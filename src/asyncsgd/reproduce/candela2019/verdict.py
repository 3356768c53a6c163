"""The decision rule: each method against Downpour (and top-k with error feedback against the
staleness remedies), paired by seed in every setting and judged against the margin of the
study's decision file (:mod:`.rule`, :func:`asyncsgd.stats.judge`): better, worse, equivalent or
inconclusive. The verdict is given apart for the settings where staleness hurts Downpour and
those where it does not, and :func:`claim` says which version's claim it supports."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asyncsgd.report.runs import SweepView
from asyncsgd.reproduce.candela2019.numbers import lines, scores, staleness_costs, values
from asyncsgd.reproduce.candela2019.plan import ALTERNATIVES, AXES, BASELINE, SPARSIFIED, Axis
from asyncsgd.reproduce.candela2019.rule import Rule, load_rule
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.stats import (
    BETTER,
    EQUIVALENT,
    INCONCLUSIVE,
    WORSE,
    Judgement,
    PairedDifference,
    paired,
    seeds_needed,
)
from asyncsgd.stats import judge as judge_one


@dataclass(frozen=True)
class Criterion:
    """A per-run measure the rule compares, turned into a score where larger is better."""

    measure: str
    title: str
    unit: str
    score: Callable[[float], float | None]
    margin: Callable[[Rule], float]


PRIMARY = Criterion("test_accuracy", "final test accuracy", "points", lambda v: v, lambda r: r.margin)
GRADIENT = Criterion(
    "grad_norm_sq_ergodic", "ergodic average of ‖∇f(x_t)‖²", "ln of the ratio, positive: smaller",
    lambda v: -math.log(v) if v > 0 else None, lambda r: r.log_gradient_margin,
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """Method A against method B in one setting, paired by seed (same seed: same initial model,
    data order and delays, so the difference is the methods' alone)."""

    setting: str
    method: str
    against: str
    difference: PairedDifference
    judgement: Judgement
    seeds: int | None
    """Seeds that would settle an inconclusive comparison at the measured spread (None: more than
    the rule's maximum, or no spread yet)."""

    @property
    def outcome(self) -> str:
        return self.judgement.outcome

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
        ci = self.judgement.interval
        band = "" if ci is None else f" [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"
        return f"{self.diff:+.{digits}f}{band} ({self.outcome})"

    def needed(self, rule: Rule) -> str:
        """What would settle it: nothing to do, a number of seeds, or more than the maximum."""
        if self.outcome != INCONCLUSIVE:
            return ""
        if self.seeds is None:
            return f"> {rule.max_seeds}" if self.n >= 2 else "≥ 2"
        return str(self.seeds)


def comparisons(view: SweepView, axis: Axis, method: str, against: str, rule: Rule,
                criterion: Criterion = PRIMARY) -> list[Comparison]:  # fmt: skip
    """Every line of ``method`` (each ratio) against ``against``, at each setting."""
    out = []
    margin = criterion.margin(rule)
    for value in values(view, axis):
        base = scores(view, axis, against, value, criterion.measure, criterion.score)
        for line in lines(view):
            if line.split(" ")[0] != method:
                continue
            d = paired(scores(view, axis, line, value, criterion.measure, criterion.score), base)
            j = judge_one(d, margin, rule.alpha)
            more = seeds_needed(d, margin, rule.alpha, rule.max_seeds) if j.outcome == INCONCLUSIVE else d.n
            out.append(Comparison(axis.label(value), line, against, d, j, more))
    return out


SUMMARIES = {
    "improves": f"{BETTER} in a majority of the comparisons and {WORSE} in none",
    "harms": f"{WORSE} in a majority of the comparisons and {BETTER} in none",
    "no effect": f"{EQUIVALENT} in a majority of the comparisons and {BETTER} or {WORSE} in none",
    "not enough data": f"{INCONCLUSIVE} in a majority of the comparisons",
    "mixed": "none of the above",
    "undecided": "no comparison",
}
"""What :func:`summary` says of a group of comparisons, and when."""

OUTCOME_OF = {"improves": BETTER, "harms": WORSE, "no effect": EQUIVALENT, "not enough data": INCONCLUSIVE,
              "undecided": "no setting", "mixed": "mixed"}  # fmt: skip
"""A summary as one of the outcomes of a single comparison (``mixed`` stays itself; a group
without comparisons has ``no setting``)."""


def summary(outcomes: Sequence[str]) -> str:
    """The rule over a group of comparisons; a key of :data:`SUMMARIES`."""
    n = len(outcomes)
    if not n:
        return "undecided"
    better, worse, same = outcomes.count(BETTER), outcomes.count(WORSE), outcomes.count(EQUIVALENT)
    if better > n / 2 and not worse:
        return "improves"
    if worse > n / 2 and not better:
        return "harms"
    if same > n / 2 and not better and not worse:
        return "no effect"
    if outcomes.count(INCONCLUSIVE) > n / 2:
        return "not enough data"
    return "mixed"


CLAIMS = {
    "first": "the first version's claim",
    "first-vanilla": "the first version's claim against vanilla SGD only",
    "later": "the later version's claim",
    "neither-harms": "neither claim: sparsification harms",
    "neither-mixed": "neither claim: the effect depends on the setting",
    "undecided": "no claim: not enough data where staleness hurts",
    "no-hurt": "no claim: staleness hurts Downpour in no setting, so no remedy can show",
}


def claim(where_it_hurts: str, against_alternatives: str) -> str:
    """Which version's claim the verdicts where staleness hurts support (a key of :data:`CLAIMS`):
    v1 needs top-k with error feedback to improve over Downpour *and* over the alternatives there;
    the later version needs it to have no effect (equivalence within the margin) there."""
    if where_it_hurts == "improves":
        return "first" if against_alternatives == "improves" else "first-vanilla"
    found = {"no effect": "later", "harms": "neither-harms", "mixed": "neither-mixed", "undecided": "no-hurt"}
    return found.get(where_it_hurts, "undecided")


@dataclass(frozen=True)
class Verdict:
    """The rule applied over both sweeps for one criterion."""

    criterion: Criterion
    rule: Rule
    against_baseline: list[Comparison]
    against_alternatives: list[Comparison]
    costs: dict[str, float]
    """Points Downpour loses against the staleness-free reference, per setting."""

    @property
    def hurt(self) -> set[str]:
        return {s for s, c in self.costs.items() if c > self.rule.hurts}

    def split(self, found: Sequence[Comparison]) -> tuple[list[Comparison], list[Comparison]]:
        """``found`` where staleness hurts, and where it does not."""
        return [c for c in found if c.setting in self.hurt], [c for c in found if c.setting not in self.hurt]

    @property
    def hurts_rule(self) -> str:
        return summary([c.outcome for c in self.split(self.against_baseline)[0]])

    @property
    def elsewhere_rule(self) -> str:
        return summary([c.outcome for c in self.split(self.against_baseline)[1]])

    @property
    def alternatives_rule(self) -> str:
        return summary([c.outcome for c in self.split(self.against_alternatives)[0]])

    @property
    def claim(self) -> str:
        return claim(self.hurts_rule, self.alternatives_rule)


def views(res: StudyResults) -> list[tuple[SweepView, Axis]]:
    """Both sweeps, each with its axis."""
    return [(res.view(part), axis) for part, axis in AXES.items()]


def rule_of(res: StudyResults) -> Rule:
    return load_rule(res.plan.size)


def judge(res: StudyResults, criterion: Criterion = PRIMARY) -> Verdict:
    """Top-k with error feedback against Downpour and against the alternatives, in every setting."""
    both, rule = views(res), rule_of(res)
    base = [c for v, a in both for c in comparisons(v, a, SPARSIFIED, BASELINE, rule, criterion)]
    alts = [
        c
        for v, a in both
        for alt in ALTERNATIVES
        for c in comparisons(v, a, SPARSIFIED, alt, rule, criterion)
    ]
    return Verdict(criterion, rule, base, alts, staleness_costs(res, PRIMARY.measure))
