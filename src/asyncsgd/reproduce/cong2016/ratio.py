"""Part (d): the ratio of the optimal convergence guarantees for p learners and for one (the
p/α theorem), charted for the study's p and evaluated at the α of our predicted-rate runs."""

from __future__ import annotations

import statistics

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.figures import ratio_figure
from asyncsgd.reproduce.cong2016.numbers import learner_counts
from asyncsgd.reproduce.cong2016.plan import RATES
from asyncsgd.reproduce.cong2016.speedup import failures, theory_checks
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, select, summary_values
from asyncsgd.theory.bound import guarantee_ratio


def ratio_section(doc: Document, res: StudyResults) -> None:
    view = res.view(RATES)
    doc.heading("(d) The ratio of convergence guarantees, p learners against one")
    doc.paragraph(
        f"Study: {pub.RATIO_SOURCE}. Minimising bound (1) under constraint (2) with T = p and with one "
        "learner (T = 1), the best guarantee with p learners is about p/α times worse (within 10% for "
        "roughly 10 ≤ α ≤ p/3; about 1.6× at α = p, tending to 1 for α ≫ p). The "
        f"chart below is `asyncsgd theory ratio --p {' '.join(map(str, pub.RATIO_LEARNERS))} --plot` "
        "(exact optimisation; dashed: p/α).",
    )
    path = ratio_figure(res)
    learners = ", ".join(map(str, pub.RATIO_LEARNERS))
    doc.image(path, f"Ratio of optimal guarantees against α for p = {learners} (dashed: p/α)")
    alphas = summary_values(select(view.runs, method="predicted"), "lr_source", "prediction", "alpha")
    if not alphas:
        return
    alpha = statistics.fmean(alphas)
    rows = []
    for p in sorted({*learner_counts(view), *pub.RATIO_LEARNERS} - {1}):
        rows.append([str(p), f"{guarantee_ratio(p, alpha):.3g}", f"{p / alpha:.3g}",
                     "yes" if alpha <= p else "no (α > p: the ratio tends to 1)"])  # fmt: skip
    doc.table(
        ["p", "R_p / R_1 (exact)", "p/α", "theorem's regime α ≤ p"], rows,
        caption=f"At the α of our predicted-rate runs (mean over them: α = {alpha:.3g}, from K, σ², M, "
        "L and D_f recorded by `lr = auto`).",
    )  # fmt: skip
    largest = max(learner_counts(view))
    inside = [p for p in learner_counts(view) if p >= alpha and p > 1]
    doc.paragraph(
        f"With α = {alpha:.3g}, our runs are in the theorem's regime "
        + (f"for p ≥ {min(inside)}" if inside else f"for no p up to {largest}")
        + f": with p = {largest} the best guarantee is {guarantee_ratio(largest, alpha):.2f}× that of one "
        f"learner, and for the study's chart (p = {', '.join(map(str, pub.RATIO_LEARNERS))}) "
        + " and ".join(f"{guarantee_ratio(p, alpha):.1f}×" for p in pub.RATIO_LEARNERS)
        + ". α grows like √K, so a longer budget moves every p towards the ratio 1.",
    )
    delay_section(doc, res)


def delay_section(doc: Document, res: StudyResults) -> None:
    """The study's T = p against the staleness our runs measured, and where Lian's conditions fail."""
    view = res.view(RATES)
    rows, notes = [], []
    for method in ("practical", "predicted"):
        for p in learner_counts(view):
            found = theory_checks(view, method, p)
            if found is None:
                continue
            alpha, checks = found
            cells = [f"{c.delay:.3g}: {c.threshold:.3g} / {c.constraint:.3g} / {c.ratio:.2f}" for c in checks]
            rows.append([method, str(p), f"{alpha:.3g}", *cells, failures(checks)])
            by = {c.label: c for c in checks}
            worst = by.get("T = τ max")
            if method == "practical" and worst is not None and worst.delay > p:
                notes.append(f"p = {p}: τ max = {worst.delay:g}")
    if not rows:
        return
    doc.heading("The delay bound T: the study's T = p against the measured staleness", 3)
    doc.paragraph(
        "The chart above, like the study, takes the delay bound T of Lian et al.'s bound to be p. Our runs "
        "measure it: the largest staleness exceeds p ("
        + ("; ".join(notes) if notes else "–")
        + "), so T = p understates the delay the theorem has to cover. Each cell gives T: the threshold "
        "2(T+1) that α must reach for Corollary 2's linear speed-up / the left side of constraint (2), "
        "u + 2T²u² ≤ 1 at the run's u = L·lr / the ratio of optimal guarantees R_p/R₁ for that T. "
        "The last column names every condition that fails.",
    )
    doc.table(["rate", "p", "α", "T = p", "T = τ p95", "T = τ max", "conditions that fail"], rows,
              caption="Lian et al.'s conditions at the measured α (from `lr = auto`'s probe) and u = L·lr; "
              "τ p95 is the mean over seeds, τ max the largest over seeds.")  # fmt: skip
