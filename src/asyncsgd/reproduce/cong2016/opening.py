"""The report's opening: the verdict table. One row per claim of the study and per question this
reproduction adds, each read from the numbers its part's section computes (the same functions),
with its outcome from a stated point of view and the settings each outcome holds in.

A difference of final scores is judged paired by seed (:func:`asyncsgd.stats.judge`: the 90%
Student-t interval of ``d̄`` against the margin :data:`~asyncsgd.reproduce.cong2016.plan.LEVEL`,
two one-sided tests at 5%). A ratio (the speed-up ``S(p)``, the cost ``K_p/K₁``) is set against its
reference (linear ``p``, the bound's ``R_p/R₁``) through its 95% paired log-ratio interval, widened
by the evaluation grid (:func:`asyncsgd.reproduce.cong2016.speedup.bracketed`): better
or worse where the interval lies entirely on one side, else inconclusive. No margin is stated for
a ratio, so a ratio is never called equivalent. The study published slides, not sentences to
quote: a row's published wording is a paraphrase (it says so) with the digitised numbers of
:mod:`asyncsgd.reproduce.published`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016 import engines, momentum, speedup, tuned
from asyncsgd.reproduce.cong2016.numbers import learner_counts, mean_of
from asyncsgd.reproduce.cong2016.plan import (
    BREAKDOWN,
    ENGINES,
    IMAGE,
    LEVEL,
    MOMENTUM,
    RATES,
    SPEEDUP,
    TEXT,
    TUNED,
)
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, select
from asyncsgd.stats import BETTER, INCONCLUSIVE, JUDGEMENTS, WORSE, Judgement, Speedup, judge, paired

NO_DATA = "no data"
ADDED = "— (not in the study: a question this reproduction adds"
LISTED = 6
"""Findings a row lists one by one; beyond, it gives their tally and the range of the differences."""
REVERSED = {BETTER: WORSE, WORSE: BETTER}


@dataclass(frozen=True)
class Finding:
    """One setting's outcome and the number it was read from."""

    setting: str
    outcome: str
    text: str
    mean: float | None = None
    """The difference behind a judged outcome (for the range of a long row)."""


@dataclass(frozen=True)
class Row:
    """A claim, its published wording, and the findings that test it from ``view``'s point of view."""

    claim: str
    wording: str
    view: str
    quantity: str
    findings: tuple[Finding, ...]

    def outcomes(self) -> list[str]:
        """The outcomes that occur, in the order better, worse, equivalent, inconclusive."""
        return [o for o in JUDGEMENTS if any(f.outcome == o for f in self.findings)]

    def holds_in(self, outcome: str) -> list[str]:
        return [f.setting for f in self.findings if f.outcome == outcome]

    def cells(self) -> list[str]:
        if not self.findings:
            return [self.claim, self.wording, NO_DATA, NO_DATA, "–"]
        found = self.outcomes()
        return [
            self.claim,
            self.wording,
            f"{self.quantity}: {self._result()}",
            f"{self.view}: " + ", ".join(f"**{o}**" for o in found),
            "; ".join(f"{o}: {grouped(self.holds_in(o))}" for o in found),
        ]

    def _result(self) -> str:
        if len(self.findings) <= LISTED:
            return "; ".join(f"{f.setting}: {f.text}" for f in self.findings)
        tally = ", ".join(f"{o} {len(self.holds_in(o))}" for o in self.outcomes())
        means = [f.mean for f in self.findings if f.mean is not None]
        spread = f"; d̄ from {min(means):+.1f} to {max(means):+.1f}" if means else ""
        return f"{len(self.findings)} comparisons: {tally}{spread}"


def grouped(settings: Sequence[str]) -> str:
    """Settings that differ only in their last value, once: ``p = 1, 2 and text set at p = 8``."""
    values: dict[str, list[str]] = {}
    for setting in settings:
        head, sign, value = setting.rpartition("= ")
        values.setdefault(head + sign, []).append(value)
    return " and ".join(head + ", ".join(found) for head, found in values.items())


def scores(runs: Sequence[RunView], spec: str = "test_accuracy") -> dict[int, float]:
    return {k: v for k, v in speedup.per_seed(list(runs), spec).items() if v is not None}


def points(j: Judgement) -> str:
    """``d̄ [interval] (n)`` in points, one decimal."""
    if j.mean is None:
        return "–"
    ci = "" if j.interval is None else f" [{j.interval[0]:+.1f}, {j.interval[1]:+.1f}]"
    return f"{j.mean:+.1f}{ci} (n = {j.n})"


def judged(
    setting: str,
    a: Sequence[RunView],
    b: Sequence[RunView],
    spec: str = "test_accuracy",
    reverse: bool = False,
) -> list[Finding]:
    """``a − b`` of a final score paired by seed, judged at the margin ``LEVEL``; ``reverse`` where a
    larger score is worse. Empty when no seed has both sides."""
    j = judge(paired(scores(a, spec), scores(b, spec)), LEVEL)
    if j.n == 0:
        return []
    outcome = REVERSED.get(j.outcome, j.outcome) if reverse else j.outcome
    return [Finding(setting, outcome, points(j), j.mean)]


def against(interval: tuple[float, float] | None, reference: float, larger_is_better: bool = True) -> str:
    """A ratio's outcome against ``reference``: better or worse where its interval lies entirely on
    one side, else inconclusive."""
    if interval is None or interval[0] <= reference <= interval[1]:
        return INCONCLUSIVE
    return BETTER if (interval[0] > reference) == larger_is_better else WORSE


def per_p(view: SweepView, a: str, b: str) -> tuple[Finding, ...]:
    """Method ``a`` against ``b`` at each p, final test accuracy paired by seed."""
    return tuple(
        f
        for p in learner_counts(view)
        for f in judged(
            f"p = {p}", select(view.runs, method=a, learners=p), select(view.runs, method=b, learners=p)
        )
    )


def rates_row(res: StudyResults) -> Row:
    last = pub.PUBLISHED_EPOCHS
    return Row(
        "(a) the rate the linear-speed-up analysis assumes ends below the practical rate, at every p",
        f"paraphrase of {pub.PRACTICAL_SOURCE.where} and of {pub.PREDICTED_SOURCE.where}: at epoch {last}, "
        f"γ = {pub.PRACTICAL_RATE} reaches {pub.PRACTICAL_ACCURACY[1][last]}% with p = 1 and γ = "
        f"{pub.PREDICTED_RATE} about {pub.PREDICTED_ACCURACY[last]}% for every p",
        "practical against predicted rate",
        "practical − predicted, final test accuracy (points)",
        per_p(res.view(RATES), "practical", "predicted"),
    )


def eamsgd_rows(res: StudyResults) -> list[Row]:
    rows = []
    for part, published, source in (
        (IMAGE, pub.EAMSGD_CIFAR, pub.EAMSGD_CIFAR_SOURCE),
        (TEXT, pub.EAMSGD_TEXT, pub.EAMSGD_TEXT_SOURCE),
    ):
        gaps = {p: v["test"][1] - v["test"][0] for p, v in published.items()}
        ahead = [str(p) for p, gap in gaps.items() if gap > LEVEL]
        study = "at every p" if len(ahead) == len(gaps) else f"at p = {', '.join(ahead) or 'none'} only"
        listed = ", ".join(f"{gap:+.1f} (p = {p})" for p, gap in gaps.items())
        rows.append(
            Row(
                f"(b) EAMSGD ends ahead of Downpour: {res.study.part(part).title} (the study: ahead {study})",
                f"paraphrase of {source.where}: EAMSGD − Downpour, final test accuracy, {listed} points",
                "EAMSGD against Downpour",
                "EAMSGD − Downpour, final test accuracy (points)",
                per_p(res.view(part), "eamsgd", "downpour"),
            )
        )
    return rows


def breakdown_row(res: StudyResults) -> Row:
    view = res.view(BREAKDOWN)
    learners = learner_counts(view)
    found = []
    lo, hi = (learners[0], learners[-1]) if learners else (0, 0)
    for method in ("text", "image") if lo != hi else ():
        top, one = (
            select(view.runs, method=method, learners=hi),
            select(view.runs, method=method, learners=lo),
        )
        for f in judged(f"{method} set at p = {hi}", top, one, "comm_share", reverse=True):
            found.append(replace(f, text=f"{mean_of(top, 'comm_share'):.1f}%, {f.text} from p = {lo}"))
    shares = "; ".join(
        f"{name}: {v[min(v)]:.1f}% (p = {min(v)}) to {v[max(v)]:.1f}% (p = {max(v)})"
        for name, v in pub.BREAKDOWN_COMMUNICATION.items()
    )
    return Row(
        "(c) communication takes a larger share of epoch time with more learners",
        f"paraphrase of {pub.BREAKDOWN_SOURCE.where}: communication {shares}",
        "the largest p against the smallest (a larger share of communication is worse)",
        "share of communication at the largest p, and its change from the smallest (points)",
        tuple(found),
    )


SPEEDUP_CLAIMS = {
    "practical": "(e) at the practical rate, asynchronous SGD speeds up less than linearly: S(p) below p",
    "predicted": "(e) at the rate the analysis assumes, the speed-up is linear: S(p) not below p",
}
SPEEDUP_WORDING = {
    "practical": "paraphrase of the study's answer: the practical rate shows sub-linear speed-up (slides "
    "7–11 show accuracy against epochs, never time)",
    "predicted": f"paraphrase of {pub.PREDICTED_SOURCE.where}: the curves for p = 1, 2, 8, 16 coincide "
    f"within about {pub.PREDICTED_SPREAD:g} point per epoch",
}


def speedup_rows(res: StudyResults) -> list[Row]:
    """S(p) against linear, and the measured cost against the bound's ratio (T = p), at each rate."""
    view = res.view(SPEEDUP)
    target = speedup.target_of(view)
    rows, costs = [], []
    for method, name in speedup.RATES:
        found: list[Finding] = []
        cost: list[Finding] = []
        if select(view.runs, method=method):
            s_list, cost_list = speedup.measured_speedups(view, method, target)
            found = [Finding(f"p = {s.learners}", against(s.interval, s.learners), speedup.interval_text(s))
                     for s in s_list[1:]]  # fmt: skip
            cost = [c for c in (cost_finding(view, method, k) for k in cost_list[1:]) if c is not None]
        rows.append(
            Row(SPEEDUP_CLAIMS[method], SPEEDUP_WORDING[method], "S(p) against linear p",
                f"S(p) = t₁/t_p to {100 * target:g}% test accuracy [95% interval]", tuple(found))
        )  # fmt: skip
        costs.append(
            Row(
                f"(d), (e) the cost of p learners is the bound's ratio of optimal guarantees, about p/α "
                f"(T = p): {name}",
                f"paraphrase of {pub.RATIO_SOURCE}",
                "the measured cost K_p/K₁ against the bound's R_p/R₁ with T = p (a larger cost is worse)",
                f"K_p/K₁ to {100 * target:g}% test accuracy [95% interval] against R_p/R₁ (T = p)",
                tuple(cost),
            )
        )
    return rows + costs


def cost_finding(view: SweepView, method: str, cost: Speedup) -> Finding | None:
    """``K_p/K₁`` against ``R_p/R₁`` with ``T = p`` (None without the α of ``lr = auto``)."""
    checks = speedup.theory_checks(view, method, cost.learners)
    if checks is None:
        return None
    by = {c.label: c for c in checks[1]}
    bound, worst = by["T = p"].ratio, by.get("T = τ max")
    also = "" if worst is None else f" (T = τ max: {worst.ratio:.2f})"
    return Finding(
        f"p = {cost.learners}",
        against(cost.interval, bound, larger_is_better=False),
        f"{speedup.interval_text(cost)} against {bound:.2f}{also}",
    )


MOMENTA = {"downpour-momentum": "server momentum 0.9", "async-momentum": "async_momentum"}
"""Downpour with the momentum EAMSGD has, as part (f) names its methods."""


def momentum_row(res: StudyResults) -> Row:
    view = res.view(MOMENTUM)
    found = []
    for _, runs in momentum.groups(view):
        if not runs or runs[0].member.method != "eamsgd":
            continue
        cell = f"({runs[0].setting('elastic_alpha'):g}, {runs[0].setting('exchange_period')})"
        for method, name in MOMENTA.items():
            found += judged(f"against {name}: (α, τ_c) = {cell}", runs, select(view.runs, method=method))
    return Row(
        "(f) EAMSGD's lead over Downpour is elastic averaging's, not momentum's",
        f"{ADDED}: the study's EAMSGD has δ = 0.9, its Downpour no momentum)",
        "EAMSGD (δ = 0.9) against Downpour with momentum",
        "EAMSGD − Downpour with momentum, final test accuracy (points)",
        tuple(found),
    )


def engines_rows(res: StudyResults) -> list[Row]:
    view = res.view(ENGINES)
    local = select(view.runs, method=engines.LOCAL)
    where = f"p = {local[0].setting('learners')}" if local else ""
    replay = judged(where, select(view.runs, method=engines.REPLAY), local)
    if replay:
        same = [r.same_params for r in engines.replays(view, lambda _: None)]
        text = (
            f"{replay[0].text}, bit-identical parameters in {sum(1 for s in same if s)} of {len(same)} seeds"
        )
        replay = [replace(replay[0], text=text)]
    return [
        Row(
            "(g) given a real engine's schedule, the simulator recomputes its run",
            f"{ADDED})",
            "the replay against the local run",
            "replay − local, final test accuracy (points)",
            tuple(replay),
        ),
        Row(
            "(g) the simulator's own delay model stands for a real engine",
            f"{ADDED}; parts (a), (b), (e), (f) run in the simulator)",
            "the simulator against the local engine",
            "simulated − local, final test accuracy (points)",
            tuple(judged(where, select(view.runs, method=engines.SIMULATED), local)),
        ),
    ]


WHICH = {"tuned": "rates tuned on a validation split", "shared": "the shared rate"}


def tuned_rows(res: StudyResults) -> list[Row]:
    view = res.view(TUNED)
    found: dict[str, list[Finding]] = {"tuned": [], "shared": []}
    for c in tuned.comparisons(view, tuned.choices(view)):
        j = c.judgement
        if j.n:
            lrs = " / ".join("–" if lr is None else f"{lr:g}" for lr in c.lr)
            found[c.rates].append(Finding(f"p = {c.p}", j.outcome, f"{points(j)} at {lrs}", j.mean))
    return [
        Row(
            f"(h) EAMSGD ends ahead of Downpour at {WHICH[rates]}",
            f"{ADDED})",
            "EAMSGD against Downpour",
            "EAMSGD − Downpour, final test accuracy (points), at Downpour's / EAMSGD's rate",
            tuple(found[rates]),
        )
        for rates in ("tuned", "shared")
    ]


def verdict_rows(res: StudyResults) -> list[Row]:
    return [
        rates_row(res),
        *eamsgd_rows(res),
        breakdown_row(res),
        *speedup_rows(res),
        momentum_row(res),
        *engines_rows(res),
        *tuned_rows(res),
    ]


def verdict_section(doc: Document, res: StudyResults) -> None:
    doc.heading("Verdict")
    doc.table(
        ["claim", "published wording", "our result", "outcome", "settings it holds in"],
        [r.cells() for r in verdict_rows(res)],
        caption="Each outcome from the stated point of view, per setting. A difference of final scores "
        f"(points; in (c) points of the share of time), paired by seed, with its 90% interval: "
        f"**equivalent** inside ±{LEVEL:g} point (two one-sided tests at 5%), else **better** or **worse** "
        "where the interval leaves out 0, else **inconclusive**. A ratio (S(p), K_p/K₁) with its 95% "
        "interval widened by the evaluation grid: better or worse where the interval lies entirely on "
        "one side of its reference, else inconclusive (no margin is stated for a ratio, so none is called "
        "equivalent). *No data*: the "
        "part has no finished runs. The study published slides: its wording is paraphrased, with the "
        "numbers digitised from them.",
    )
