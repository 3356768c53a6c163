"""Candela, Franzese, Filippone, Michiardi (2019), "Sparsification as a Remedy for Staleness in
Distributed Asynchronous SGD" (arXiv 1910.09466; later "Convergence Analysis of Sparsified
Asynchronous SGD").

Under controlled staleness (p = 2, 4, 8, 16 learners in the simulator's delay model, and a fixed τ),
Downpour against top-k at several ratios with and without error feedback, random-k, the
staleness-aware learning rate, DC-ASGD and synchronous SGD. The two versions of the work disagree
about the empirical claim (v1: sparsification "consistently improves"; later: its effect is
"negligible"); the report computes which one the data supports with a stated decision rule
(:func:`compare` in each setting, :func:`verdict` over the settings, :func:`claim` for the two
versions), applied to the final test accuracy and, as a check, to the ergodic average of
‖∇f(x_t)‖² that the theorem bounds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asyncsgd.report.measures import MEASURES, measure
from asyncsgd.report.recipe import recipe_for
from asyncsgd.report.runs import RunView, SweepView, label
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import (
    StudyResults,
    aggregate,
    cell,
    provenance_section,
    scale,
    settings_line,
    summary_values,
)
from asyncsgd.reproduce.study import Part, Study, register

DELAYS, FIXED = "delays", "fixed"
BASELINE = "downpour"
SPARSIFIED = "topk-ef"
ALTERNATIVES = ("staleness-lr", "dc-asgd")
CONTEXT = ("topk", "randomk-ef", "staleness-lr", "dc-asgd")
"""Methods also put against Downpour with the same rule, for context."""
LINE_KEYS = ("method", "ratio")
DATA_KEYS = ("dataset", "model", "hidden", "batch_size", "lr", "updates")

REFERENCES = {"delays": "sync", "fixed": "sgd"}
"""The runs without staleness each setting is measured against: synchronous SGD with the same p,
sequential SGD for the fixed τ."""
HURTS = 2.0
"""Points of final test accuracy below its reference at which staleness is said to hurt Downpour."""

Z = 2.0
"""A difference counts when it exceeds this many standard errors of the paired mean difference..."""
OUTCOMES = ("better", "worse", "within noise", "n/a")


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
CRITERIA = (PRIMARY, GRADIENT)


@dataclass(frozen=True)
class Comparison:
    """Method A against method B in one setting, paired by seed (same seed: same initial model,
    data order and delays, so the difference is the methods' alone)."""

    setting: str
    method: str
    against: str
    diff: float | None
    se: float | None
    n: int
    outcome: str

    def text(self, digits: int = 2) -> str:
        if self.diff is None:
            return "–"
        se = "" if self.se is None else f" ± {self.se:.{digits}f}"
        return f"{self.diff:+.{digits}f}{se} ({self.outcome})"


def compare(
    a: dict[int, float], b: dict[int, float], z: float = Z, margin: float = PRIMARY.margin
) -> tuple[float | None, float | None, int, str]:
    """The rule in one setting: ``d_s = a_s − b_s`` over the seeds both have; with ``n ≥ 2`` seeds,
    ``d̄ = mean d_s`` and ``SE = stdev(d_s)/√n``; **better** if ``d̄ > max(z·SE, margin)``,
    **worse** if ``d̄ < −max(z·SE, margin)``, else **within noise**; ``n/a`` below two seeds."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    if len(diffs) < 2:
        return (diffs[0] if diffs else None), None, len(diffs), "n/a"
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    bar = max(z * se, margin)
    outcome = "better" if mean > bar else "worse" if mean < -bar else "within noise"
    return mean, se, len(diffs), outcome


VERDICTS = {
    "improves": "better beyond the noise in a majority of the comparisons and worse in none",
    "harms": "worse beyond the noise in a majority of the comparisons and better in none",
    "negligible": "within the noise in a majority of the comparisons",
    "mixed": "none of the above",
    "undecided": "no comparison had two seeds",
}


def verdict(outcomes: Sequence[str]) -> str:
    """The majority rule over comparisons (``n/a`` ones left out); see :data:`VERDICTS`."""
    counted = [o for o in outcomes if o != "n/a"]
    if not counted:
        return "undecided"
    n, better, worse = len(counted), counted.count("better"), counted.count("worse")
    if better > n / 2 and worse == 0:
        return "improves"
    if worse > n / 2 and better == 0:
        return "harms"
    if counted.count("within noise") > n / 2:
        return "negligible"
    return "mixed"


CLAIMS = {
    "first": "the first version's claim",
    "first-vanilla": "the first version's claim against vanilla SGD only",
    "later": "the later version's claim",
    "neither-harms": "neither claim: sparsification harms",
    "neither-mixed": "neither claim: the effect depends on the setting",
    "undecided": "no claim (too few seeds)",
}


def claim(against_baseline: str, against_alternatives: str) -> str:
    """Which version's claim the two rules support (a key of :data:`CLAIMS`): v1 needs top-k with
    error feedback to improve over Downpour *and* over the alternatives; the later version needs
    its effect against Downpour to be negligible."""
    if against_baseline == "improves":
        return "first" if against_alternatives == "improves" else "first-vanilla"
    if against_baseline == "negligible":
        return "later"
    if against_baseline == "harms":
        return "neither-harms"
    if against_baseline == "mixed":
        return "neither-mixed"
    return "undecided"


def _tally(comparisons: Sequence[Comparison]) -> str:
    counted = [c.outcome for c in comparisons]
    return ", ".join(f"{o} {counted.count(o)}" for o in OUTCOMES if counted.count(o)) or "none"


# -- reading the sweeps ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """What a sweep varies between its settings: learners (delay model) or τ (fixed staleness)."""

    key: str
    symbol: str

    def label(self, value: object) -> str:
        return f"{self.symbol} = {value}"


AXES = {DELAYS: Axis("learners", "p"), FIXED: Axis("staleness", "τ")}


def _line(run: RunView) -> str:
    return label(LINE_KEYS, [run.key(k) for k in LINE_KEYS])


def _lines(view: SweepView) -> list[str]:
    seen: dict[str, None] = {}
    for r in view.runs:
        seen.setdefault(_line(r), None)
    return list(seen)


def _position(view: SweepView, axis: Axis) -> Callable[[RunView], object]:
    """A run's value on the axis: its grid point's (None for a reference that does not vary it),
    or its setting when ``--set`` fixed the axis for every run."""
    if any(axis.key in r.member.point for r in view.runs):
        return lambda r: r.key(axis.key)
    return lambda r: r.setting(axis.key)


def _values(view: SweepView, axis: Axis) -> list[object]:
    where = _position(view, axis)
    return sorted({where(r) for r in view.runs} - {None}, key=float)


def _at(view: SweepView, axis: Axis, line: str, value: object) -> list[RunView]:
    """Finished runs of ``line`` at ``value`` (a reference that does not vary the axis is in every
    setting)."""
    where = _position(view, axis)
    return [r for r in view.runs if r.done and _line(r) == line and where(r) in (value, None)]


def _scores(view: SweepView, axis: Axis, line: str, value: object, criterion: Criterion) -> dict[int, float]:
    """The criterion's score of each seed's run of ``line`` at ``value``."""
    get = measure(criterion.measure).value
    out = {}
    for r in _at(view, axis, line, value):
        v = get(r)
        s = None if v is None else criterion.score(v)
        if s is not None:
            out[int(r.setting("seed"))] = s
    return out


def comparisons(view: SweepView, axis: Axis, method: str, against: str, criterion: Criterion = PRIMARY
                ) -> list[Comparison]:  # fmt: skip
    """Every line of ``method`` (each ratio) against ``against``, at each setting."""
    out = []
    for value in _values(view, axis):
        base = _scores(view, axis, against, value, criterion)
        for line in _lines(view):
            if line.split(" ")[0] != method:
                continue
            mine = _scores(view, axis, line, value, criterion)
            diff, se, n, outcome = compare(mine, base, margin=criterion.margin)
            out.append(Comparison(axis.label(value), line, against, diff, se, n, outcome))
    return out


@dataclass(frozen=True)
class Verdict:
    """The rule applied over both sweeps for one criterion."""

    criterion: Criterion
    against_baseline: list[Comparison]
    against_alternatives: list[Comparison]

    @property
    def baseline_rule(self) -> str:
        return verdict([c.outcome for c in self.against_baseline])

    @property
    def alternatives_rule(self) -> str:
        return verdict([c.outcome for c in self.against_alternatives])

    @property
    def claim(self) -> str:
        return claim(self.baseline_rule, self.alternatives_rule)


def _views(res: StudyResults) -> list[tuple[SweepView, Axis]]:
    return [(res.view(part), axis) for part, axis in AXES.items()]


def staleness_costs(res: StudyResults) -> dict[str, float]:
    """Per setting, how many points of mean final test accuracy Downpour loses against the run
    without staleness (:data:`REFERENCES`)."""
    acc = measure(PRIMARY.measure).value
    out = {}
    for part, axis in AXES.items():
        view = res.view(part)
        for value in _values(view, axis):
            ref = [v for r in _at(view, axis, REFERENCES[part], value) if (v := acc(r)) is not None]
            base = [v for r in _at(view, axis, BASELINE, value) if (v := acc(r)) is not None]
            if ref and base:
                out[axis.label(value)] = statistics.fmean(ref) - statistics.fmean(base)
    return out


def judge(res: StudyResults, criterion: Criterion = PRIMARY) -> Verdict:
    """Top-k with error feedback against Downpour and against the alternatives, in every setting."""
    views = _views(res)
    base = [c for v, a in views for c in comparisons(v, a, SPARSIFIED, BASELINE, criterion)]
    alts = [
        c for v, a in views for alt in ALTERNATIVES for c in comparisons(v, a, SPARSIFIED, alt, criterion)
    ]
    return Verdict(criterion, base, alts)


# -- the report -----------------------------------------------------------------------------------
def statement(v: Verdict) -> str:
    """The verdict sentence, chosen by :func:`claim` (nothing in it is typed by hand but the words)."""
    key = v.claim
    if key == "first":
        return (f"The data support the **first version's** claim, \"{pub.CANDELA_V1_CLAIM}\": top-k with "
                "error feedback beats Downpour and the staleness remedies.")  # fmt: skip
    if key == "first-vanilla":
        return (
            "The data support the first version's claim **only against vanilla SGD**: top-k with error "
            "feedback beats Downpour, but against the staleness remedies the rule says "
            f"*{v.alternatives_rule}*, "
            f'so "{pub.CANDELA_V1_CLAIM}" does not hold in full.'
        )
    if key == "later":
        return (f"The data support the **later version's** claim, \"{pub.CANDELA_LATER_CLAIM}\": top-k with "
                "error feedback is within the noise of Downpour in most settings, not consistently "
                "better.")  # fmt: skip
    if key == "neither-harms":
        return ("The data support **neither** claim: top-k with error feedback is *worse* than Downpour "
                "in most settings, so its effect is neither an improvement nor negligible.")  # fmt: skip
    if key == "neither-mixed":
        return ("The data support **neither** claim across the board: top-k with error feedback is better "
                "than Downpour in some settings and worse or level in others (see the table).")  # fmt: skip
    return "No verdict: the comparisons need at least two seeds."


def verdict_section(doc: Document, res: StudyResults) -> None:
    main, check = judge(res, PRIMARY), judge(res, GRADIENT)
    doc.heading("Verdict")
    doc.paragraph(statement(main))
    doc.paragraph(
        f"On the {PRIMARY.title}, top-k with error feedback against Downpour: "
        f"{_tally(main.against_baseline)} "
        f"(rule: *{main.baseline_rule}*); against the staleness remedies ({', '.join(ALTERNATIVES)}): "
        f"{_tally(main.against_alternatives)} (rule: *{main.alternatives_rule}*). The same rule on the "
        f"{GRADIENT.title}, the quantity the theorem bounds: against Downpour "
        f"{_tally(check.against_baseline)} "
        f"(*{check.baseline_rule}*), against the remedies {_tally(check.against_alternatives)} "
        f"(*{check.alternatives_rule}*), which supports {CLAIMS[check.claim]}"
        + (", in agreement with the accuracy." if check.claim == main.claim else ", unlike the accuracy."),
    )  # fmt: skip
    costs = staleness_costs(res)
    hurt = {s for s, c in costs.items() if c > HURTS}
    if costs:
        inside = [c for c in main.against_baseline if c.setting in hurt]
        outside = [c for c in main.against_baseline if c.setting not in hurt]
        remedies = [c for c in main.against_alternatives if c.setting in hurt]
        listed = ", ".join(f"{s}: {costs[s]:.1f}" for s in costs if s in hurt) or "none"
        doc.paragraph(
            f"**Where staleness hurts.** Downpour ends more than {HURTS:g} points of test accuracy below "
            "the run without staleness (synchronous SGD with the same p, or sequential SGD) in "
            f"{len(hurt)} of {len(costs)} settings (points lost: {listed}). "
            + (f"There, top-k with error feedback against Downpour: {_tally(inside)} "
               f"(*{verdict([c.outcome for c in inside])}*), and against the remedies: {_tally(remedies)} "
               f"(*{verdict([c.outcome for c in remedies])}*). " if inside else "")
            + (f"Where it does not: {_tally(outside)} (*{verdict([c.outcome for c in outside])}*). "
               if outside else "")
            + "The verdict's majority runs over every setting, so it weighs the settings in which "
            f"staleness costs Downpour at most {HURTS:g} points as much as those in which it costs more.",
        )  # fmt: skip
    doc.paragraph("**The decision rule** (fixed before the runs, applied by the report's code):")
    doc.bullets([
        "In each setting (each p of the delay model, each fixed τ) and for each top-k ratio, pair the "
        "runs of the two methods by seed (the same seed gives both the same initial model, data order "
        "and staleness schedule) and take the differences d_s of a score where larger is better: the "
        f"{PRIMARY.title} in percentage points, or for the {GRADIENT.title} the log of the ratio "
        "ln(baseline/method).",
        f"With n ≥ 2 seeds, d̄ = mean d_s and SE = stdev(d_s)/√n. **better** if d̄ > max({Z:g}·SE, m), "
        f"**worse** if d̄ < −max({Z:g}·SE, m), otherwise **within noise**; the margin m is "
        f"{PRIMARY.margin:g} points of accuracy and ln {math.exp(GRADIENT.margin):.1f} (10%) of the "
        "gradient norm, so a difference too small to matter is negligible even when it is beyond the "
        f"noise. With few seeds {Z:g}·SE is a yardstick, not a significance test.",
        "Over all comparisons: **improves** if "
        f"{VERDICTS['improves']}; **harms** if {VERDICTS['harms']}; **negligible** if "
        f"{VERDICTS['negligible']}; otherwise **mixed**.",
        "The first version's claim (\"consistently improves over vanilla SGD and current alternatives\") "
        "needs *improves* against Downpour and against the remedies; the later version's (\"negligible\") "
        "needs *negligible* against Downpour.",
    ])  # fmt: skip
    _comparison_table(
        doc,
        main.against_baseline,
        check.against_baseline,
        "Every comparison behind the verdict: top-k with error feedback against Downpour.",
    )
    _comparison_table(doc, main.against_alternatives, check.against_alternatives,
                      "Top-k with error feedback against the staleness remedies.")  # fmt: skip
    other = []
    for method in CONTEXT:
        found = [c for v, a in _views(res) for c in comparisons(v, a, method, BASELINE)]
        if found:
            other.append(
                f"`{method}` against Downpour: {_tally(found)} → *{verdict([c.outcome for c in found])}*."
            )
    doc.paragraph(
        f"The same rule on the {PRIMARY.title} for the other methods against Downpour, for context:"
    )
    doc.bullets(other)


def _comparison_table(
    doc: Document, accuracy: list[Comparison], gradient: list[Comparison], caption: str
) -> None:
    """The same comparisons on both criteria, one row each."""
    doc.table(
        ["setting", "method", "against", f"d̄ ± SE ({PRIMARY.unit})", "seeds", f"d̄ ± SE, {GRADIENT.title}"],
        [[c.setting, c.method, c.against, c.text(), str(c.n), g.text(3)]
         for c, g in zip(accuracy, gradient, strict=True)],
        caption=caption,
    )  # fmt: skip


def _method(view: SweepView, name: str) -> dict:
    return next((m for m in view.definition.get("methods", []) if m.get("name") == name), {})


def _ratios(view: SweepView, name: str) -> str:
    m = _method(view, name)
    values = m.get("grid", {}).get("ratio", [m["ratio"]] if "ratio" in m else [])
    return ", ".join(f"{100 * v:g}%" for v in values) or "–"


def choices_section(doc: Document, res: StudyResults) -> None:
    delays, fixed = res.view(DELAYS), res.view(FIXED)
    dc = _method(delays, "dc-asgd")
    sync, sgd = _method(delays, "sync"), _method(fixed, "sgd")
    points = summary_values([r for r in delays.runs if r.done], "grad_norm_sq", "points")
    doc.heading("What the study leaves open, and what this reproduction chose")
    doc.paragraph(
        f"Neither version publicly states {pub.CANDELA_NOT_PUBLISHED} (research notes, section 1.4). "
        "Our choices, all visible in the sweep files:",
    )
    doc.bullets([
        f"Data and model: {settings_line(delays, DATA_KEYS)}; "
        "every method gets the same number K of server updates (the theorem's T).",
        "Sparsification is applied by the learners to their pushes (`codec`): top-k over the whole "
        f"vector at ratios {_ratios(delays, 'topk-ef')} with error feedback and {_ratios(delays, 'topk')} "
        "without; error feedback keeps the raw dropped gradient and adds it to the next push (Stich et "
        f"al.'s memory with γ factored out); random-k keeps {_ratios(delays, 'randomk-ef')} with the same "
        "memory.",
        "Staleness from the delay model: p simulated learners with "
        f"{settings_line(delays, ('delay',))} compute times (τ is measured per push). Fixed staleness: every "
        f"push applied τ updates late ({settings_line(fixed, ('delay', 'staleness_dist', 'learners'))}).",
        f"Alternatives: the staleness-aware rate γ/τ (Zhang et al. 2016, `remedy = "
        f"{_method(delays, 'staleness-lr').get('remedy', '–')}`) and DC-ASGD (Zheng et al. 2017, `remedy = "
        f"{dc.get('remedy', '–')}`, λ = {dc.get('dc_lambda', '–')}, m = {dc.get('dc_momentum', '–')}); "
        f"references: `protocol = {sync.get('protocol', '–')}` with p learners (the delay model's "
        "settings; each of its updates averages p gradients, so with the same K it computes p times as "
        f"many as the asynchronous methods) and `protocol = {sgd.get('protocol', '–')}` (τ = 0, the "
        "fixed sweep).",
        "‖∇f(x_t)‖² is the squared norm of the gradient of the training loss over the evaluated "
        "training set at each evaluation (`eval_grad_norm`); its ergodic average (1/T) Σ_t ‖∇f(x_t)‖², "
        "the quantity the theorem bounds, is approximated by the mean over the evaluation points "
        f"({_count(points)} per run, x_1 and the last point included).",
    ])  # fmt: skip


def _count(values: list[float]) -> str:
    if not values:
        return "–"
    lo, hi = int(min(values)), int(max(values))
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def _measures(view: SweepView) -> list[str]:
    tables = recipe_for(view.definition).tables
    return list(tables[0].measures) if tables else ["test_accuracy"]


def _describe(name: str) -> str:
    return MEASURES.entry(name.partition(":")[0]).summary


def results_section(doc: Document, res: StudyResults, part: str, title: str) -> None:
    view, axis = res.view(part), AXES[part]
    values = _values(view, axis)
    doc.heading(title)
    if view.description:
        doc.paragraph(view.description)
    for name in _measures(view):
        m = measure(name)
        rows = []
        for line in _lines(view):
            rows.append([line, *(cell(aggregate(_at(view, axis, line, v), name), m.digits) for v in values)])
        doc.table(["method", *(axis.label(v) for v in values)], rows,
                  caption=f"{m.header}: mean ± std over seeds ({_describe(name)}).")  # fmt: skip
    for fig in recipe_for(view.definition).figures:
        doc.image(res.figure(part, fig, view.runs), fig.title or fig.name)
    fig = Figure("curve", "test_accuracy", "update", facet=axis.key, lines=LINE_KEYS,
                 title="Test accuracy against server updates")  # fmt: skip
    doc.image(res.figure(part, fig), "Test accuracy against server updates, one panel per setting")


def report(res: StudyResults) -> Document:
    doc = Document(f"Reproduction of Candela et al. (2019), {scale(res.plan)}")
    doc.paragraph(
        f"{pub.CANDELA}. The work proves that sparsified asynchronous SGD keeps the O(1/√T) ergodic rate "
        "of non-convex SGD under staleness; its two versions then make different empirical claims. "
        f'First version ({pub.CANDELA_V1}): "{pub.CANDELA_V1_CLAIM}". Later version '
        f'({pub.CANDELA_LATER}): "{pub.CANDELA_LATER_CLAIM}". No numbers of either version are '
        "publicly readable, so this report tests the claims, not figures.",
    )
    verdict_section(doc, res)
    choices_section(doc, res)
    delays = _values(res.view(DELAYS), AXES[DELAYS])
    taus = _values(res.view(FIXED), AXES[FIXED])
    results_section(doc, res, DELAYS, f"Staleness from the delay model: p = {', '.join(map(str, delays))}")
    results_section(doc, res, FIXED, f"Fixed staleness: τ = {', '.join(map(str, taus))}")
    provenance_section(doc, res)
    return doc


STUDY = register(
    Study(
        name="candela2019",
        title="Candela et al. (2019): sparsification as a remedy for staleness",
        citation=pub.CANDELA,
        parts=(Part(DELAYS, "delay model, p = 2, 4, 8, 16"), Part(FIXED, "fixed staleness τ")),
        report=report,
    )
)
