"""Charts of the theory's predictions (:mod:`asyncsgd.theory`), drawn from its formulas alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asyncsgd.plots.canvas import new_figure, save
from asyncsgd.plots.style import GRID_ALPHA
from asyncsgd.theory.bound import guarantee_ratio


def ratio_plot(learners: Sequence[int], alphas: Sequence[float], path: Path) -> Path:
    """Bhardwaj & Cong's chart: the ratio of optimal guarantees R_p/R_1 against α over the range
    of ``alphas``, one curve per p, with the ``p/α`` asymptote dashed."""
    grid = np.geomspace(min(alphas), max(alphas), 240)
    fig, ax = new_figure(figsize=(6.4, 4.2))
    for p in learners:
        (line,) = ax.plot(grid, [guarantee_ratio(p, float(a)) for a in grid], label=f"p = {p}")
        ax.plot(grid, p / grid, ls="--", lw=0.8, color=line.get_color())
    ax.axhline(1.0, color="gray", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α = √(Kσ² / (M L D_f))")
    ax.set_ylabel("optimal guarantee, p learners / 1 learner")
    ax.set_title("Ratio of convergence-rate guarantees (dashed: p/α)")
    ax.grid(alpha=GRID_ALPHA, which="both")
    ax.legend()
    return save(fig, path, dpi=110)
