"""The rate the theorem states: with the step γ = c/√K, the ergodic average
(1/K) Σ_t E‖∇f(x_t)‖² of sparsified asynchronous SGD under bounded staleness is O(1/√K).

Each line (a method at a ratio) is fitted per seed: ln A_s(K) = a_s + b_s·ln K over the seed's
K (:func:`asyncsgd.stats.loglog_slope`), and the slope is the mean b̄ of the b_s with the Student-t
interval over the seeds (seeds are the independent replicates; with every seed at every K, b̄ is
the pooled least-squares slope too, which is shown beside it with its own interval). The bound is
an upper bound, so the reading is one-sided in meaning: a slope steeper than −1/2 is consistent
with it, −1/2 inside the interval is consistent, and only a slope significantly *shallower* than
−1/2 contradicts it at these K (the average falls more slowly than any c'/√K would allow, were
the trend to go on)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asyncsgd.plots.canvas import new_figure, save
from asyncsgd.plots.style import GRID_ALPHA, cycle_colors
from asyncsgd.report.measures import measure
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce.candela2019.numbers import count, line_of, lines
from asyncsgd.reproduce.candela2019.plan import RATE, SPARSIFIED
from asyncsgd.reproduce.candela2019.rule import load_rule
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, aggregate, cell, summary_values
from asyncsgd.stats import Slope, loglog_slope, t_quantile

EXPONENT = -0.5
"""The exponent of the theorem's bound, O(K^(−1/2))."""
ERGODIC = "grad_norm_sq_ergodic"
TOLERANCE = 1e-9
"""How close to −1/2 an end of the interval may be and still count as reaching it (a fit of exact
power laws lands on −1/2 only up to rounding)."""

STEEPER, INSIDE, SHALLOWER, NO_FIT = "steeper", "−1/2 inside", "shallower", "no fit"
READINGS = {
    STEEPER: "steeper than −1/2: consistent with the bound (the average falls faster than it)",
    INSIDE: "−1/2 inside the interval: consistent with the bound's rate",
    SHALLOWER: "significantly shallower than −1/2: contradicts the O(1/√K) bound at these K",
    NO_FIT: "no slope (fewer than two seeds with two K each)",
}
CHECK = "spacing-check"
"""The method evaluated densely, whose mean is the reference for the evaluation spacing."""
DEFAULT_EVALS = 25
"""Evaluations per run without ``eval_every`` (plus the start): the fixed count the check contrasts."""
CLAIM = "the O(1/√K) ergodic rate under staleness with sparsification"
WORDING = (
    "(1/T) Σ_t E‖∇f(x_t)‖² = O(1/√T) for a step ∝ 1/√T under bounded staleness, with or without "
    "sparsification (the theorem, paraphrased)"
)


def seed_slope(points: Mapping[int, Sequence[tuple[float, float]]], alpha: float) -> Slope | None:
    """b̄ over the seeds with at least two distinct K, with the ``1 − alpha`` Student-t interval over
    them (None below two such seeds; with every b_s equal the interval has zero width)."""
    fits = [loglog_slope(p, alpha) for p in points.values() if len({k for k, _ in p}) >= 2]
    if len(fits) < 2:
        return None
    slopes = [f.slope for f in fits]
    n, mean = len(slopes), statistics.fmean(slopes)
    se = statistics.stdev(slopes) / math.sqrt(n)
    half = t_quantile(1 - alpha / 2, n - 1) * se
    intercept = statistics.fmean(f.intercept for f in fits)
    return Slope(mean, intercept, n, se, (mean - half, mean + half), alpha)


def reading(slope: Slope | None, exponent: float = EXPONENT) -> str:
    """What the interval says of the bound's exponent: a key of :data:`READINGS`."""
    if slope is None or slope.interval is None:
        return NO_FIT
    low, high = slope.interval
    if high < exponent - TOLERANCE:
        return STEEPER
    if low > exponent + TOLERANCE:
        return SHALLOWER
    return INSIDE


@dataclass(frozen=True)
class RateFit:
    """One line's ergodic averages by seed and K, its per-seed slope and the pooled one."""

    line: str
    points: dict[int, list[tuple[float, float]]]
    slope: Slope | None
    pooled: Slope | None
    left_out: int
    """Finished runs without a finite positive ergodic average (diverged, or not measured)."""

    @property
    def reading(self) -> str:
        return reading(self.slope)

    def text(self, slope: Slope | None) -> str:
        if slope is None:
            return "–"
        band = "" if slope.interval is None else f" [{slope.interval[0]:+.3f}, {slope.interval[1]:+.3f}]"
        return f"{slope.slope:+.3f}{band}"


def _budget(run: RunView) -> float:
    return float(run.setting("updates"))


def fit(view: SweepView, line: str, alpha: float) -> RateFit:
    """Line ``line``'s fits over its finished runs."""
    value = measure(ERGODIC).value
    points: dict[int, list[tuple[float, float]]] = defaultdict(list)
    left_out = 0
    for r in view.runs:
        if not r.done or line_of(r) != line:
            continue
        v = value(r)
        if v is None or not (v > 0 and math.isfinite(v)):
            left_out += 1
            continue
        points[int(r.setting("seed"))].append((_budget(r), v))
    pooled_points = [p for found in points.values() for p in found]
    pooled = loglog_slope(pooled_points, alpha) if len({k for k, _ in pooled_points}) >= 2 else None
    return RateFit(line, dict(points), seed_slope(points, alpha), pooled, left_out)


def fits(res: StudyResults) -> list[RateFit]:
    """Every line of the rate part, at the ``1 − 2α`` level of the study's decision rule (each side
    of the interval a one-sided test at level α, as the rule's comparisons)."""
    view, alpha = res.view(RATE), 2 * load_rule(res.plan.size).alpha
    return [fit(view, line, alpha) for line in lines(view) if line != CHECK]


def outcome(found: Sequence[RateFit]) -> str:
    """The verdict over the sparsified lines: contradicted if any is significantly shallower,
    consistent if every one is steeper or reaches −1/2, else no fit."""
    readings = [f.reading for f in found]
    if SHALLOWER in readings:
        return "contradicted"
    if readings and NO_FIT not in readings:
        return "consistent"
    return NO_FIT


def _budgets(view: SweepView) -> list[float]:
    return sorted({_budget(r) for r in view.runs})


def verdict_row(res: StudyResults) -> list[str]:
    """The rate's row of the verdict table."""
    found = [f for f in fits(res) if f.line.split(" ")[0] == SPARSIFIED]
    budgets = _budgets(res.view(RATE))
    where = (
        f"p = {count(summary_values(res.view(RATE).runs, 'learners'))}, K = {budgets[0]:g} to {budgets[-1]:g}"
    )
    result = "; ".join(f"{f.line}: slope {f.text(f.slope)}" for f in found) or "–"
    ok = [f.line for f in found if f.reading in (STEEPER, INSIDE)]
    return [CLAIM, WORDING, result, outcome(found), f"{where}: {', '.join(ok)}" if ok else "none"]


def figure(res: StudyResults, found: Sequence[RateFit]) -> Path:
    """The ergodic averages against K on log-log axes: every seed's point, each line's per-seed fit,
    and a line of slope −1/2 for comparison."""
    path = res.next_figure("rate")
    fig, ax = new_figure(1, 1, figsize=(6.4, 4.4))
    budgets = _budgets(res.view(RATE))
    for color, f in zip(cycle_colors(), found, strict=False):
        ks = [k for p in f.points.values() for k, _ in p]
        ax.scatter(ks, [v for p in f.points.values() for _, v in p], s=10, alpha=0.4, color=color)
        if f.slope is not None:
            xs = [budgets[0], budgets[-1]]
            ax.plot(xs, [math.exp(f.slope.intercept) * x**f.slope.slope for x in xs], color=color,
                    label=f"{f.line}: slope {f.slope.slope:+.2f}")  # fmt: skip
    every = [v for f in found for p in f.points.values() for _, v in p]
    if every and len(budgets) > 1:
        anchor = math.exp(statistics.fmean(math.log(v) for v in every))
        middle = math.sqrt(budgets[0] * budgets[-1])
        xs = [budgets[0], budgets[-1]]
        ax.plot(
            xs, [anchor * (x / middle) ** EXPONENT for x in xs], ls="--", color="gray", label="slope −1/2"
        )
    if every:  # a log scale of nothing cannot be drawn
        ax.set_xscale("log")
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("server updates K (lr = c/√K)")
    ax.set_ylabel("ergodic average of ‖∇f(x_t)‖²")
    ax.grid(alpha=GRID_ALPHA, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return save(fig, path, dpi=100)


def rate_section(doc: Document, res: StudyResults) -> None:
    view = res.view(RATE)
    done = [r for r in view.runs if r.done and r.member.method != CHECK]
    budgets, found = _budgets(view), fits(res)
    level = 1 - 2 * load_rule(res.plan.size).alpha
    scaled = [float(r.setting("lr")) * math.sqrt(_budget(r)) for r in done]
    spacing = [float(r.setting("lr")) * float(r.setting("eval_every")) for r in done]
    doc.heading("The rate: ergodic ‖∇f‖² against K at lr = c/√K")
    if view.description:
        doc.paragraph(view.description)
    tau_mean, tau_max = (summary_values(done, "staleness", k) for k in ("mean", "max"))
    doc.paragraph(
        f"Each run takes K server updates at lr = c/√K (c = lr·√K = {_span(scaled, 4)} over the runs), "
        f"with p = {count(summary_values(done, 'learners'))} learners of the delay model (τ mean "
        f"{_span(tau_mean, 2)}, τ max {count(tau_max)}). The ergodic average is the mean of ‖∇f(x_t)‖² "
        "over the evaluation points "
        f"({count(summary_values(done, 'grad_norm_sq', 'points'))} per run), spaced so that lr × updates "
        f"between two evaluations is {_span(spacing, 3)} at every K: the start of a run then weighs the "
        "same in every K's average, which a fixed number of evaluations per run would not."
    )
    rows = []
    for f in found:
        runs = [r for r in done if line_of(r) == f.line]
        rows.append(
            [f.line, *(cell(aggregate([r for r in runs if _budget(r) == k], ERGODIC), 4) for k in budgets)]
        )
    doc.table(["method", *(f"K = {k:g}" for k in budgets)], rows,
              caption="Ergodic average of ‖∇f(x_t)‖²: mean ± std over seeds.")  # fmt: skip
    doc.table(
        ["method", f"slope b̄ [{level:.0%} interval], per seed", "seeds", "pooled slope [interval]", "points",
         "runs left out", "reading"],
        [[f.line, f.text(f.slope), str(f.slope.n if f.slope else 0), f.text(f.pooled),
          str(f.pooled.n if f.pooled else 0), str(f.left_out), READINGS[f.reading]] for f in found],
        caption=f"Slope of ln(ergodic ‖∇f‖²) against ln K. Per seed: each seed's least-squares slope over "
        f"its K, then their mean with the {level:.0%} Student-t interval over seeds (the primary fit); "
        "pooled: one least-squares fit over every (K, seed) point.",
    )  # fmt: skip
    doc.paragraph(
        "**Reading.** The theorem gives an upper bound, O(1/√K): a slope steeper than −1/2 is "
        "consistent with it (the average falls faster than the bound), −1/2 inside the interval is "
        "consistent, and only a slope significantly shallower than −1/2 contradicts it at these K. "
        + " ".join(_grouped(found))
    )
    doc.image(figure(res, found), "Ergodic ‖∇f‖² against K, log-log, with each line's fit and slope −1/2")
    spacing_section(doc, view)


def _grouped(found: Sequence[RateFit]) -> list[str]:
    """One sentence per reading, naming the lines that have it."""
    out = []
    for key, words in READINGS.items():
        named = ", ".join(f"`{f.line}`" for f in found if f.reading == key)
        if named:
            out.append(f"{words[0].upper()}{words[1:]}: {named}.")
    return out


def _mean_every(run: RunView, every: int) -> float | None:
    """The mean of ‖∇f‖² over the run's evaluations at multiples of ``every`` and at its last update
    (what the run would have averaged had it been evaluated that often); None if one is missing."""
    last = _budget(run)
    found = [m for m in run.metrics if m.get("update") is not None]
    kept = [m.get("grad_norm_sq") for m in found if m["update"] % every == 0 or m["update"] == last]
    values = [v for v in kept if v is not None]
    return statistics.fmean(values) if values and len(values) == len(kept) else None


def spacing_rows(view: SweepView) -> list[tuple[float, int, float, float | None, float | None]]:
    """Per checked K: K, the dense run's spacing, its mean before K (the reference), and the ratio to
    it of the mean at the other runs' spacing and at :data:`DEFAULT_EVALS` points."""
    out = []
    for r in view.runs:
        if not r.done or r.member.method != CHECK:
            continue
        k, dense = _budget(r), int(r.setting("eval_every"))
        before = [
            v for m in r.metrics if (v := m.get("grad_norm_sq")) is not None and (m.get("update") or 0) < k
        ]
        spacing = {
            int(o.setting("eval_every")) for o in view.runs if o.member.method != CHECK and _budget(o) == k
        }
        if not before or len(spacing) != 1:
            continue
        reference = statistics.fmean(before)
        ratios = [(v / reference if (v := _mean_every(r, e)) is not None and reference > 0 else None)
                  for e in (spacing.pop(), max(1, int(k) // DEFAULT_EVALS))]  # fmt: skip
        out.append((k, dense, reference, ratios[0], ratios[1]))
    return sorted(out)


def _drift(rows: Sequence[tuple[float, int, float, float | None, float | None]], column: int) -> str:
    """The slope a ratio changing from the smallest checked K to the largest would add to a fit."""
    ends = [(row[0], row[column]) for row in (rows[0], rows[-1]) if row[column] is not None]
    if len(ends) < 2 or ends[0][0] == ends[1][0] or not all(v and v > 0 for _, v in ends):
        return "–"
    (k0, r0), (k1, r1) = ends
    return f"{math.log(r1 / r0) / math.log(k1 / k0):+.3f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def spacing_section(doc: Document, view: SweepView) -> None:
    rows = spacing_rows(view)
    if not rows:
        return
    doc.table(
        ["K", "check evaluated every", "its mean before K", "mean at the sweep's spacing / it",
         f"mean at {DEFAULT_EVALS + 1} points / it"],
        [[f"{k:g}", str(dense), f"{ref:.4f}", _ratio(a), _ratio(b)] for k, dense, ref, a, b in rows],
        caption=f"The check of the evaluation spacing (`{CHECK}`: Downpour at one seed, evaluated densely; "
        "its mean over the iterates before K is the reference). A ratio that changes with K would tilt "
        "the fitted slope by ln(ratio at the largest K / at the smallest) / ln(K ratio): "
        f"{_drift(rows, 3)} at the sweep's spacing, {_drift(rows, 4)} at {DEFAULT_EVALS + 1} points per run.",
    )  # fmt: skip


def _span(found: Sequence[float], digits: int) -> str:
    if not found:
        return "–"
    lo, hi = min(found), max(found)
    return (
        f"{lo:.{digits}g}"
        if f"{lo:.{digits}g}" == f"{hi:.{digits}g}"
        else f"{lo:.{digits}g} to {hi:.{digits}g}"
    )
