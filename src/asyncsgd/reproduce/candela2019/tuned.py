"""Tuned baselines: every method at the learning rate chosen on a validation split, then the
comparisons at those rates and at the shared rate.

A comparison at one shared rate may only say which method that rate suits: Downpour under heavy
staleness wants a smaller step than sequential SGD, and a remedy may act as a smaller effective
step. So each line (a method at a ratio) in each setting (p learners) gets the rate of its grid
with the best mean final accuracy on the validation split held out of the training set
(:func:`asyncsgd.report.tuning.choose`; the test set plays no part in the choice). A run that
diverged at a rate counts with the validation accuracy of the model it stopped at, and one that
failed (stalled, learners lost) as 0%, so a rate that survives only in some seeds is not chosen for
them. Runs with the same seed share the initial
model, data order and delays whatever their rate, so the comparisons stay paired by seed and are
judged with the study's rule (:func:`asyncsgd.stats.judge`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from asyncsgd.report.measures import Aggregate, measure
from asyncsgd.report.recipe import recipe_for
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.report.tuning import Choice, Trial, choose
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019.numbers import line_of, lines, values
from asyncsgd.reproduce.candela2019.opening import holds_in, tally
from asyncsgd.reproduce.candela2019.plan import BASELINE, LINE_KEYS, SPARSIFIED, TUNED, Axis
from asyncsgd.reproduce.candela2019.rule import Rule, load_rule
from asyncsgd.reproduce.candela2019.verdict import OUTCOME_OF, Comparison, summary
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.stats import BETTER, EQUIVALENT, INCONCLUSIVE, paired, seeds_needed
from asyncsgd.stats import judge as judge_one

AXIS = Axis("learners", "p")
KEY = "lr"
REFERENCE = "sgd"
"""Sequential SGD: the run without staleness each setting is measured against."""
FAILED = 0.0
"""The validation accuracy (%) a failed run counts as at its rate."""


def rate(run: RunView) -> float:
    return float(run.setting(KEY))


def _members(view: SweepView, line: str, value: object) -> list[RunView]:
    """Runs of ``line`` at ``value`` that finished or failed (a reference that does not vary the
    axis is in every setting)."""
    return [
        r
        for r in view.runs
        if r.member.status in ("done", "failed") and line_of(r) == line and r.key(AXIS.key) in (value, None)
    ]


def _grouped(view: SweepView) -> list[tuple[tuple[str, str], RunView]]:
    """Every finished or failed run with its (setting, line) group."""
    return [
        ((AXIS.label(value), line), r) for value in values(view, AXIS) for line in lines(view)
        for r in _members(view, line, value)
    ]  # fmt: skip


def trials(view: SweepView) -> list[Trial]:
    """Every finished or failed run as a trial of its (setting, line) group; a failed run scores
    :data:`FAILED` on validation and has no test accuracy."""
    val, test = measure("val_accuracy"), measure("test_accuracy")
    return [
        Trial(group, rate(r), val.value(r), test.value(r)) if r.done else Trial(group, rate(r), FAILED, None)
        for group, r in _grouped(view)
    ]


def shared_rate(view: SweepView) -> float | None:
    """The shared rate the sweep file states (its ``[[report.tunings]]`` entry for ``lr``)."""
    return next((t.shared for t in recipe_for(view.definition).tunings if t.key == KEY), None)


def _tests(view: SweepView, line: str, value: object, lr: float | None) -> dict[int, float]:
    """Final test accuracy (points) of each seed's finished run of ``line`` at ``value`` and ``lr``."""
    get = measure("test_accuracy").value
    out = {}
    for r in _members(view, line, value):
        if r.done and lr is not None and rate(r) == lr and (v := get(r)) is not None:
            out[int(r.setting("seed"))] = v
    return out


def _versus(view: SweepView, value: object, a: tuple[str, float | None], b: tuple[str, float | None],
            rule: Rule) -> Comparison:  # fmt: skip
    """Line ``a`` at its rate against line ``b`` at its rate, paired by seed."""
    d = paired(_tests(view, a[0], value, a[1]), _tests(view, b[0], value, b[1]))
    j = judge_one(d, rule.margin, rule.alpha)
    more = seeds_needed(d, rule.margin, rule.alpha, rule.max_seeds) if j.outcome == INCONCLUSIVE else d.n
    return Comparison(AXIS.label(value), a[0], b[0], d, j, more)


@dataclass(frozen=True)
class Tuned:
    """The tuned part judged: the choices, each line against Downpour and the staleness-free
    reference against Downpour, at the tuned rates and at the shared rate."""

    rule: Rule
    shared: float | None
    choices: dict[tuple[str, str], Choice]
    """(setting, line) → the rate chosen on the validation split."""
    failed: dict[tuple[str, str], int]
    """(setting, line) → its failed runs (every rate)."""
    diverged: dict[tuple[str, str], int]
    """(setting, line) → its runs whose model diverged (every rate)."""
    tuned: list[Comparison]
    at_shared: list[Comparison]
    costs: list[Comparison]
    """The reference against Downpour (positive: staleness costs Downpour), at the tuned rates."""
    shared_costs: list[Comparison]

    def hurt(self, costs: Sequence[Comparison]) -> set[str]:
        """Settings where Downpour's mean accuracy is more than the rule's threshold below the
        reference's (the study's definition)."""
        return {c.setting for c in costs if c.diff is not None and c.diff > self.rule.hurts}

    def split(self, found: Sequence[Comparison], costs: Sequence[Comparison]) -> tuple[list, list]:
        hurt = self.hurt(costs)
        return [c for c in found if c.setting in hurt], [c for c in found if c.setting not in hurt]

    def sparsified(self, found: Sequence[Comparison]) -> list[Comparison]:
        return [c for c in found if c.method.split(" ")[0] == SPARSIFIED]


def judge(view: SweepView, rule: Rule) -> Tuned:
    """Choose every line's rate on validation, then pair at the chosen and the shared rates."""
    shared = shared_rate(view)
    choices = {c.group: c for c in choose(trials(view), shared)}  # type: ignore[misc]
    found = lines(view)
    tuned, at_shared, costs, shared_costs = [], [], [], []
    for value in values(view, AXIS):
        label = AXIS.label(value)

        def chosen(line: str, where: str = label) -> tuple[str, float | None]:
            c = choices.get((where, line))
            return line, None if c is None else c.value

        base = chosen(BASELINE)
        if REFERENCE in found:
            costs.append(_versus(view, value, chosen(REFERENCE), base, rule))
            shared_costs.append(_versus(view, value, (REFERENCE, shared), (BASELINE, shared), rule))
        for line in found:
            if line in (BASELINE, REFERENCE):
                continue
            tuned.append(_versus(view, value, chosen(line), base, rule))
            at_shared.append(_versus(view, value, (line, shared), (BASELINE, shared), rule))
    failed = Counter(group for group, r in _grouped(view) if not r.done)
    diverged = Counter(group for group, r in _grouped(view) if r.diverged)
    return Tuned(rule, shared, choices, failed, diverged, tuned, at_shared, costs, shared_costs)


def of(res: StudyResults) -> Tuned:
    return judge(res.view(TUNED), load_rule(res.plan.size))


def verdict_rows(res: StudyResults) -> list[list[str]]:
    """The verdict table's rows for the tuned rates: whether staleness hurts Downpour, and top-k
    with error feedback against Downpour where it does, each at its rate chosen on validation."""
    t = of(res)
    hurt = t.split(t.sparsified(t.tuned), t.costs)[0]
    rule = OUTCOME_OF[summary([c.outcome for c in hurt])]
    words = "rates chosen on the validation split"
    return [
        [
            "staleness hurts Downpour under the delay model, each at its tuned rate",
            "(the premise of both versions)",
            "sequential SGD − Downpour: " + ("; ".join(f"{c.setting}: {c.text()}" for c in t.costs) or "–"),
            "; ".join(f"{c.setting}: {c.outcome} for sequential SGD" for c in t.costs) or "no setting",
            ", ".join(c.setting for c in t.costs if c.setting in t.hurt(t.costs)) or "none",
        ],
        [
            "sparsification improves on vanilla asynchronous SGD where staleness hurts, at tuned rates",
            f"({pub.CANDELA_V1}; {words})",
            tally(hurt),
            rule,
            holds_in(hurt, BETTER),
        ],
        [
            "its effect is negligible where staleness hurts, at tuned rates",
            f"({pub.CANDELA_LATER}; {words})",
            tally(hurt),
            rule,
            holds_in(hurt, EQUIVALENT),
        ],
    ]


def _choice_row(c: Choice, failed: int, diverged: int) -> list[str]:
    setting, line = c.group  # type: ignore[misc]
    notes = ["at the grid's edge" if c.at_edge else "", f"grid of {len(c.grid)} values" if c.coarse else "",
             f"{failed} failed run(s)" if failed else "",
             f"{diverged} diverged run(s)" if diverged else ""]  # fmt: skip
    return [
        str(setting), str(line), "–" if c.value is None else f"{c.value:g}",
        "–" if c.score is None else f"{c.score:.2f}", Aggregate.of(list(c.tested)).format(2),
        Aggregate.of(list(c.shared)).format(2), "; ".join(n for n in notes if n) or "–",
    ]  # fmt: skip


def section(doc: Document, res: StudyResults) -> None:
    """The tuned part: the rates chosen, the comparisons at them and at the shared rate, and
    whether staleness hurts Downpour there."""
    view, t = res.view(TUNED), of(res)
    grid = ", ".join(f"{v:g}" for v in sorted({rate(r) for r in view.runs}))
    shared = "–" if t.shared is None else f"{t.shared:g}"
    doc.heading(f"Tuned rates: {', '.join(AXIS.label(v) for v in values(view, AXIS))}")
    if view.description:
        doc.paragraph(view.description)
    doc.paragraph(
        f"Every line runs the learning-rate grid {grid}; its rate is the one with the best mean final "
        "accuracy on the validation split (held out of the training set, never seen by a learner); the "
        "test set plays no part in the choice. A run whose model diverged counts with the validation "
        f"accuracy of the model it stopped at ({sum(t.diverged.values())} of {len(view.runs)} runs "
        f"diverged), a failed run as {FAILED:g}% ({sum(t.failed.values())} failed). Each comparison "
        f"pairs the runs by seed, at the rates chosen and at the shared rate {shared}, and is judged "
        f"with the rule above (margin {t.rule.margin:g} points, α = {t.rule.alpha:g})."
    )
    doc.table(
        ["setting", "line", "chosen lr", "val acc % (chosen)", "test acc % (chosen)",
         f"test acc % (lr = {shared})", "note"],
        [_choice_row(c, t.failed.get(key, 0), t.diverged.get(key, 0)) for key, c in t.choices.items()],
        caption="The rate chosen on the validation split for each line and setting; test accuracy mean ± std "
        "over seeds (no pick at an edge of the grid unless the note says so).",
    )  # fmt: skip
    doc.paragraph(_hurts_sentence(t))
    hurt = t.hurt(t.costs)
    rows = zip([*t.costs, *t.tuned], [*t.shared_costs, *t.at_shared], strict=True)
    doc.table(
        ["setting", "staleness hurts (tuned)", "method", "against", "d̄ [interval] at tuned rates (points)",
         f"d̄ [interval] at lr = {shared}", "seeds"],
        [[c.setting, "yes" if c.setting in hurt else "no", c.method, c.against, c.text(), s.text(), str(c.n)]
         for c, s in rows],
        caption="Each line against Downpour (and sequential SGD against Downpour: what staleness costs it), "
        "paired by seed, at the rates chosen on validation and at the shared rate.",
    )  # fmt: skip
    doc.paragraph(_remedies_sentence(t))
    for y, title in (("val_accuracy", "validation"), ("test_accuracy", "test")):
        fig = Figure("final", y, KEY, facet=AXIS.key, lines=LINE_KEYS,
                     title=f"Final {title} accuracy against the learning rate")  # fmt: skip
        doc.image(
            res.figure(TUNED, fig), f"Final {title} accuracy against the learning rate, one panel per p"
        )
    fig = Figure("staleness", facet=AXIS.key, lines=LINE_KEYS, title="Distribution of the staleness τ")
    doc.image(
        res.figure(TUNED, fig), "Staleness distribution of the tuned part (every rate), one panel per p"
    )


def _hurts_sentence(t: Tuned) -> str:
    if not t.costs:
        return "**Does staleness hurt here?** No setting has runs of both Downpour and sequential SGD."
    parts = []
    for c, s in zip(t.costs, t.shared_costs, strict=True):
        verdict = "hurts" if c.setting in t.hurt(t.costs) else "does not hurt"
        at_shared = "" if t.shared is None else f" (at lr = {t.shared:g}: {s.text()})"
        parts.append(f"At {c.setting} staleness **{verdict}** Downpour: sequential SGD − Downpour at the "
                     f"tuned rates = {c.text()} points{at_shared}")  # fmt: skip
    return (
        "**Does staleness hurt here?** " + ". ".join(parts) + f" (it hurts where the mean loss exceeds "
        f"{t.rule.hurts:g} points; the word in brackets judges the difference with the rule)."
    )


def _remedies_sentence(t: Tuned) -> str:
    out = []
    for name, found, costs in (
        ("tuned rates", t.tuned, t.costs),
        ("the shared rate", t.at_shared, t.shared_costs),
    ):
        hurt, other = t.split(found, costs)
        out.append(
            f"At {name}, where staleness hurts: {tally(hurt)} (*{summary([c.outcome for c in hurt])}*); "
            f"elsewhere: {tally(other)} (*{summary([c.outcome for c in other])}*)."
        )
    return "Every line against Downpour, by the rule. " + " ".join(out)
