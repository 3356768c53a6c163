"""The study's own figures: its published curves beside ours, and the chart of the theory's
ratio of guarantees (both on the plotting layer's private canvases)."""

from __future__ import annotations

from pathlib import Path

from asyncsgd.plots import GRID_ALPHA, cycle_colors, new_figure, save
from asyncsgd.plots.theory import ratio_plot
from asyncsgd.report.runs import SweepView
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.numbers import accuracy_at, budget_epochs, learner_counts
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.theory.render import RATIO_ALPHAS


def comparison_figure(res: StudyResults, view: SweepView) -> Path:
    """Ours (solid, mean over seeds) beside the digitised published curves (dashed), against the
    fraction of the training budget, one panel per rate."""
    epochs = budget_epochs(view)
    path = res.next_figure("rates-published-vs-ours")
    fig, axes = new_figure(1, 2, figsize=(11, 4.0), sharey=True)
    colors = cycle_colors()
    fractions = [i / 40 for i in range(1, 41)]
    panels = (("practical", "practical rate"), ("predicted", "predicted rate"))
    for ax, (method, title) in zip(axes, panels, strict=True):
        for i, p in enumerate(learner_counts(view)):
            color = colors[i % len(colors)]
            ours = [accuracy_at(view, method, p, f * epochs) for f in fractions]
            ax.plot(fractions, [float("nan") if v is None else v for v in ours], color=color,
                    label=f"ours p = {p}")  # fmt: skip
            table = pub.PRACTICAL_ACCURACY.get(p) if method == "practical" else pub.PREDICTED_ACCURACY
            if table is not None and (method == "practical" or i == 0):
                xs = [e / pub.PUBLISHED_EPOCHS for e in table]
                name = f"study p = {p}" if method == "practical" else "study, every p"
                ax.plot(xs, list(table.values()), ls="--", marker="o", ms=3,
                        color=color if method == "practical" else "gray", label=name)  # fmt: skip
        ax.set_title(title)
        ax.set_xlabel(
            f"fraction of the training budget (study: {pub.PUBLISHED_EPOCHS} epochs; ours: {epochs:g})"
        )
        ax.grid(alpha=GRID_ALPHA)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("test accuracy (%)")
    fig.suptitle("Published (CIFAR-10, dashed) and ours (solid), against the fraction of the budget")
    return save(fig, path, dpi=100)


def ratio_figure(res: StudyResults) -> Path:
    """``asyncsgd theory ratio --p 256 512 --plot``: the ratio of optimal guarantees against α for
    the study's p, at the command's default α."""
    return ratio_plot(list(pub.RATIO_LEARNERS), list(RATIO_ALPHAS), res.next_figure("theory-ratio"))
