"""Part (a): Downpour at the practical learning rate against the rate the convergence analysis
assumes (``lr = "auto"``), p = 1, 2, 8, 16, beside the study's numbers."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from asyncsgd.report.runs import SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.figures import comparison_figure
from asyncsgd.reproduce.cong2016.numbers import accuracy_at, budget_epochs, learner_counts, mean_lr
from asyncsgd.reproduce.cong2016.plan import CHECKPOINT_EPOCHS, CHECKPOINTS, LEVEL, RATES
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, select, settings_line, summary_values


def percentages(values: Sequence[float | None]) -> str:
    return " / ".join("–" if v is None else f"{v:.1f}" for v in values)


def spread(values: list[float], seeds: int) -> str:
    """Mean and range over the predicted-rate runs (one probe per run, from its own initial point;
    runs of one seed share it, whatever their p)."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return (f"{statistics.fmean(values):.4g} (range {min(values):.4g} to {max(values):.4g} over "
            f"{len(values)} runs, {seeds} seeds)")  # fmt: skip


def rates_section(doc: Document, res: StudyResults) -> None:
    view = res.view(RATES)
    epochs = budget_epochs(view)
    learners = learner_counts(view)
    practical_lr, predicted_lr = mean_lr(view, "practical"), mean_lr(view, "predicted")
    doc.heading("(a) The practical and the predicted learning rate")
    doc.paragraph(
        f"Study: Downpour on CIFAR-10 for {pub.PUBLISHED_EPOCHS} epochs with p = 1, 2, 8, 16 at the "
        f"practical rate γ = {pub.PRACTICAL_RATE} and at the rate the linear-speed-up analysis "
        f"assumes, γ = √(D_f/(MKLσ²)) = {pub.PREDICTED_RATE} ({pub.RATE_SOURCE}). Ours: "
        f"{settings_line(view, ('dataset', 'model', 'hidden', 'batch_size', 'epochs', 'delay'))}. Our "
        f"practical rate is {'–' if practical_lr is None else f'{practical_lr:g}'}, the study's value, "
        "which is also a usual rate for batch-mean gradients on this model; the predicted rate is "
        '`lr = "auto"`: Lian et al.\'s Corollary 2 with D_f, σ² and L measured by the theory tool on '
        "a probe from each run's own initial point (docs/theory.md), with K the run's whole budget.",
    )
    predicted = select(view.runs, method="predicted")
    seeds = len({r.setting("seed") for r in predicted})
    lrs = summary_values(predicted, "lr")
    recipe = summary_values(predicted, "lr_source", "prediction", "study_recipe_lr")
    inputs = ("lr_source", "prediction", "inputs")
    updates = summary_values(predicted, *inputs, "updates")
    batch = summary_values(predicted, *inputs, "batch_size")
    samples = updates[0] * batch[0] if updates and batch else None
    study_epochs = pub.PREDICTION_SAMPLES / pub.CIFAR10_TRAIN
    ratio = None if predicted_lr is None or practical_lr is None else practical_lr / predicted_lr
    doc.table(
        ["", "study (CIFAR-10)", "ours"],
        [
            ["practical rate", f"{pub.PRACTICAL_RATE}", "–" if practical_lr is None else f"{practical_lr:g}"],
            ["predicted rate (batch-mean gradients)", f"{pub.PREDICTED_RATE}", spread(lrs, seeds)],
            ["the slides' formula read literally (σ² of mini-batches)", "–", spread(recipe, seeds)],
            ["practical / predicted", f"{pub.PRACTICAL_RATE / pub.PREDICTED_RATE:.0f}×",
             "–" if ratio is None else f"{ratio:.1f}×"],
            ["samples MK the prediction assumes", f"{pub.PREDICTION_SAMPLES:,} ({study_epochs:g} epochs)",
             "–" if samples is None else f"{samples:,.0f} (the whole run, {epochs:g} epochs)"],
            ["D_f = f(x1)", "not given", spread(summary_values(predicted, *inputs, "d_f"), seeds)],
            ["L (Hessian, max over the probe)", "not given",
             spread(summary_values(predicted, *inputs, "lipschitz"), seeds)],
            ["σ² per sample (max over the probe)", "not given",
             spread(summary_values(predicted, *inputs, "sigma2"), seeds)],
            ["α = √(Kσ²/(MLD_f))", "not given",
             spread(summary_values(predicted, "lr_source", "prediction", "alpha"), seeds)],
        ],
        caption="The learning rates (study: slide 10). The slides do not say whether their rates "
        "multiply batch sums or batch means; docs/theory.md §2 explains the conventions.",
    )  # fmt: skip
    header = ["p"]
    marks = " / ".join(f"{f:.0%}" for f in CHECKPOINTS)
    for side in (f"study γ = {pub.PRACTICAL_RATE}", "ours practical", f"study γ = {pub.PREDICTED_RATE}",
                 "ours predicted"):  # fmt: skip
        header.append(f"{side}: {marks}")
    rows = []
    for p in learners:
        table = pub.PRACTICAL_ACCURACY.get(p)
        rows.append([
            str(p),
            percentages([table[e] for e in CHECKPOINT_EPOCHS]) if table else "–",
            percentages([accuracy_at(view, "practical", p, f * epochs) for f in CHECKPOINTS]),
            percentages([pub.PREDICTED_ACCURACY[e] for e in CHECKPOINT_EPOCHS]),
            percentages([accuracy_at(view, "predicted", p, f * epochs) for f in CHECKPOINTS]),
        ])  # fmt: skip
    doc.table(
        header, rows,
        caption=f"Test accuracy (%) at 10%, 50% and 100% of the training budget (study: epochs "
        f"{', '.join(map(str, CHECKPOINT_EPOCHS))}; ours: epochs "
        f"{', '.join(f'{f * epochs:g}' for f in CHECKPOINTS)}), ours the mean over seeds. "
        f"Study: {pub.PRACTICAL_SOURCE}; {pub.PREDICTED_SOURCE}.",
    )  # fmt: skip
    fig = Figure("curve", "test_accuracy", "epoch", facet="method", lines=("learners",),
                 title="Ours: test accuracy against epochs (mean ± std over seeds)")  # fmt: skip
    doc.image(
        res.figure(RATES, fig), "Ours: test accuracy against epochs, one panel per rate, one line per p"
    )
    doc.image(
        comparison_figure(res, view),
        "Published curves (digitised, dashed) beside ours (solid, mean over seeds)",
    )
    fig = Figure("staleness", facet="method", lines=("learners",), title="Staleness of applied pushes")
    doc.image(res.figure(RATES, fig), "Staleness of applied pushes, one panel per rate, one line per p")
    doc.heading("What the numbers say", 3)
    doc.bullets(_rates_findings(view, learners, epochs, ratio))


def _rates_findings(view: SweepView, learners: list[int], epochs: float, ratio: float | None) -> list[str]:
    out = []
    lo, hi = learners[0], learners[-1]
    early, first = CHECKPOINTS[0] * epochs, CHECKPOINT_EPOCHS[0]
    a_lo, a_hi = accuracy_at(view, "practical", lo, early), accuracy_at(view, "practical", hi, early)
    f_lo, f_hi = accuracy_at(view, "practical", lo, epochs), accuracy_at(view, "practical", hi, epochs)
    study_lo, study_hi = pub.PRACTICAL_ACCURACY.get(lo), pub.PRACTICAL_ACCURACY.get(hi)
    last = pub.PUBLISHED_EPOCHS
    if a_lo is not None and a_hi is not None and f_lo is not None and f_hi is not None and lo != hi:
        study = (
            f" Study: {study_hi[first]:.1f}% against {study_lo[first]:.1f}% at epoch {first}, "
            f"{study_hi[last]:.1f}% against {study_lo[last]:.1f}% at epoch {last}."
            if study_lo and study_hi else ""
        )  # fmt: skip
        pace = (
            "slower than" if a_lo - a_hi > LEVEL else "faster than" if a_hi - a_lo > LEVEL else "as fast as"
        )
        out.append(
            f"Practical rate: with p = {hi} convergence per epoch is {pace} with p = {lo}: "
            f"{a_hi:.1f}% against "
            f"{a_lo:.1f}% after {early:g} epochs (10% of the budget), and {f_hi:.1f}% against "
            f"{f_lo:.1f}% at the end.{study}"
        )
    finals = [v for v in (accuracy_at(view, "predicted", p, epochs) for p in learners) if v is not None]
    if finals and f_lo is not None:
        span, gap = max(finals) - min(finals), f_lo - max(finals)
        where = "below" if gap > LEVEL else "above" if gap < -LEVEL else f"within {LEVEL:g} point of"
        out.append(
            f"Predicted rate: the final accuracies for p = {', '.join(map(str, learners))} span "
            f"{span:.1f} points ({min(finals):.1f}% to {max(finals):.1f}%; study: within about "
            f"{pub.PREDICTED_SPREAD:g} point, ≈{pub.PREDICTED_ACCURACY[last]}%), {where} the practical "
            f"rate's {f_lo:.1f}% with p = {lo} (study: {study_lo[last] if study_lo else '–'}%)."
            + (" As in the study, the rate the analysis assumes is slower for every p." if gap > LEVEL else
               " Unlike the study, the predicted rate ends as well as the practical one here.")
        )  # fmt: skip
    if ratio is not None:
        study_epochs = pub.PREDICTION_SAMPLES / pub.CIFAR10_TRAIN
        out.append(
            f"The predicted rate is {ratio:.1f}× smaller than the practical one (study: "
            f"{pub.PRACTICAL_RATE / pub.PREDICTED_RATE:.0f}×). Corollary 2's rate is √(D_f/(K·L·σ_M²)): it "
            f"depends on the data and the model through L·σ², which the slides do not give, and on the "
            f"budget as 1/√K. Our K is the whole run ({epochs:g} epochs); the study's MK = "
            f"{pub.PREDICTION_SAMPLES:,} samples is {study_epochs:g} of its {pub.PUBLISHED_EPOCHS} "
            f"epochs. With K of {study_epochs:g} epochs our rate would be "
            f"{(epochs / study_epochs) ** 0.5:.2f}× what it is."
        )
    return out
