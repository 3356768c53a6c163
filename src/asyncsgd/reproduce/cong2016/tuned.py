"""Part (h): tuned baselines. Part (b) compares Downpour and EAMSGD at one learning rate, as the
study did; a method that merely prefers another step size then looks worse. Here each method's
rate at each p is chosen from a log-spaced grid by the best mean final accuracy on a validation
split held out of the training set (:func:`asyncsgd.report.tuning.choose`; the test set plays no
part, and a choice at the grid's edge is flagged), and EAMSGD − Downpour is judged paired by seed
at the tuned rates and at the shared rate the sweep file states (Student's t, the margin
:data:`~asyncsgd.reproduce.cong2016.plan.LEVEL`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncsgd.report.measures import measure
from asyncsgd.report.runs import SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.report.tuning import Choice, Trial, choose
from asyncsgd.reproduce.cong2016.numbers import learner_counts
from asyncsgd.reproduce.cong2016.plan import LEVEL, TUNED
from asyncsgd.reproduce.cong2016.speedup import per_seed
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, select, settings_line
from asyncsgd.stats import Judgement, judge, paired

BASE, OTHER = "downpour", "eamsgd"
"""EAMSGD − Downpour, as in part (b)."""


def shared_rate(view: SweepView) -> float | None:
    """The shared rate the sweep file's tuning table names (``[[report.tunings]] shared``)."""
    tunings = view.definition.get("report", {}).get("tunings", [])
    value = tunings[0].get("shared") if tunings else None
    return float(value) if isinstance(value, int | float) else None


def choices(view: SweepView) -> list[Choice]:
    """The rate chosen on the validation split per (method, p), in the sweep file's order."""
    val, test = measure("val_accuracy"), measure("test_accuracy")
    trials = [Trial((r.member.method, int(r.setting("learners"))), float(r.setting("lr")), val.value(r),
                    test.value(r)) for r in select(view.runs)]  # fmt: skip
    return choose(trials, shared_rate(view))


def at_rate(view: SweepView, method: str, p: int, lr: float | None) -> dict[int, float]:
    """Final test accuracy (%) per seed of ``method`` at ``p`` and rate ``lr``."""
    if lr is None:
        return {}
    runs = [r for r in select(view.runs, method=method, learners=p) if float(r.setting("lr")) == lr]
    return {k: v for k, v in per_seed(runs, "test_accuracy").items() if v is not None}


@dataclass(frozen=True)
class Comparison:
    p: int
    rates: str
    """Which rates: "shared" or "tuned"."""
    lr: tuple[float | None, float | None]
    """Downpour's rate and EAMSGD's."""
    judgement: Judgement


def comparisons(view: SweepView, chosen: Sequence[Choice]) -> list[Comparison]:
    """EAMSGD − Downpour at each p, at the shared rate and at the tuned ones, paired by seed."""
    picked = {c.group: c.value for c in chosen}
    shared = shared_rate(view)
    out = []
    for p in learner_counts(view):
        for rates, lrs in (
            ("shared", (shared, shared)),
            ("tuned", (picked.get((BASE, p)), picked.get((OTHER, p)))),
        ):
            d = paired(at_rate(view, OTHER, p, lrs[1]), at_rate(view, BASE, p, lrs[0]))
            out.append(Comparison(p, rates, lrs, judge(d, LEVEL)))
    return out


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _points(j: Judgement) -> str:
    if j.mean is None:
        return "–"
    ci = "" if j.interval is None else f" [{j.interval[0]:+.2f}, {j.interval[1]:+.2f}]"
    return f"{j.mean:+.2f}{ci} (n = {j.n})"


def _outcome(j: Judgement) -> str:
    return "–" if j.n == 0 else f"**{j.outcome}**"


def _mean(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "–"


def tuned_section(doc: Document, res: StudyResults) -> None:
    view = res.view(TUNED)
    if not select(view.runs):
        return
    doc.heading("(h) Tuned baselines: Downpour against EAMSGD at rates chosen on a validation split")
    keys = ("dataset", "model", "hidden", "batch_size", "epochs", "delay", "validation")
    chosen = choices(view)
    shared = shared_rate(view)
    doc.paragraph(
        f"Part (b) runs both methods at one rate. Here, with {settings_line(view, keys)}, each method's rate "
        "at each p is chosen from its grid by the best mean final accuracy on the validation split (held out "
        "of the training set, never seen by the learners); the test set plays no part in the choice. "
        f"EAMSGD − Downpour is then judged paired by seed at the tuned rates and at the shared rate "
        f"{_rate(shared)}, with a margin of {LEVEL:g} point (90% interval: two one-sided tests at 5%).",
    )
    doc.table(
        ["method", "p", "grid", "chosen rate", "val acc there (%)", "test acc there (%)",
         f"test acc at {_rate(shared)} (%)", "note"],
        [[c.group[0], str(c.group[1]), ", ".join(f"{v:g}" for v in c.grid), _rate(c.value),
          "–" if c.score is None else f"{c.score:.2f}", _mean(c.tested), _mean(c.shared), note(c)]
         for c in chosen],
        caption="Means over seeds; the validation accuracy is the one the choice maximised.",
    )  # fmt: skip
    rows = comparisons(view, chosen)
    doc.table(
        ["p", "rates", "Downpour's rate", "EAMSGD's rate", "EAMSGD − Downpour (points)", "outcome"],
        [[str(c.p), c.rates, _rate(c.lr[0]), _rate(c.lr[1]), _points(c.judgement),
          _outcome(c.judgement)] for c in rows],
        caption=f"Paired by seed, final test accuracy; margin {LEVEL:g} point.",
    )  # fmt: skip
    fig = Figure("final", y="val_accuracy", x="lr", facet="learners", lines=("method",),
                 title="Validation accuracy against the learning rate")  # fmt: skip
    doc.image(res.figure(TUNED, fig), "Final validation accuracy against the learning rate, one panel per p")
    doc.bullets(findings(chosen, rows))


def note(c: Choice) -> str:
    if c.value is None:
        return "no validation score"
    if c.at_edge:
        return "at the grid's edge: a better rate may lie outside it"
    return "coarse grid" if c.coarse else ""


def findings(chosen: Sequence[Choice], rows: Sequence[Comparison]) -> list[str]:
    out = []
    edges = [f"{c.group[0]} at p = {c.group[1]}" for c in chosen if c.value is not None and c.at_edge]
    out.append(
        "The chosen rate lies at the edge of its grid for " + ", ".join(edges) + "."
        if edges else "No chosen rate lies at the edge of its grid."
    )  # fmt: skip
    shared = {c.p: c.lr for c in rows if c.rates == "shared"}
    same = [c for c in rows if c.rates == "tuned" and c.lr[0] is not None and c.lr == shared.get(c.p)]
    if same:
        out.append(
            f"At p = {', '.join(str(c.p) for c in same)} both methods' chosen rate is the shared rate "
            f"{_rate(same[0].lr[0])}, so there the comparison at the tuned rates is the one at the shared "
            "rate."
        )
    for p in sorted({c.p for c in rows}):
        mine = {c.rates: c.judgement for c in rows if c.p == p}
        if "shared" in mine and "tuned" in mine:
            out.append(
                f"p = {p}: EAMSGD − Downpour is {_points(mine['shared'])} points at the shared rate "
                f"({_outcome(mine['shared'])}) and {_points(mine['tuned'])} at the tuned rates "
                f"({_outcome(mine['tuned'])})."
            )
    return out
