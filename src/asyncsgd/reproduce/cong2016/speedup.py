"""Part (e): the study's central claim measured. Simulated time to a target accuracy against p, at
the practical and at the predicted rate, seeds paired; the measured cost of p learners beside the
ratio of optimal guarantees that Lian et al.'s bound predicts from the measured α, with the study's
``T = p`` and with the staleness the runs measured.

``S(p) = t_1 / t_p`` (geometric mean over seeds of the paired ratios, :func:`asyncsgd.stats.speedups`);
the cost of p learners is ``K_p / K_1``, the server updates (gradients) needed to reach the target
with p learners over those with one: the measured counterpart of the ratio of guarantees ``R_p/R_1``
(both compare the same target at the same total work).

A time to the target is known only to the evaluation that first sees it: a run evaluated every
``e`` updates reached it within its last ``e`` updates. Each interval is widened by that bracket
(:func:`bracketed`), so seeds that all reach the target at the same evaluation give an interval as
wide as the evaluation grid, not one of zero width that would pass for certainty."""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

from asyncsgd.plots import GRID_ALPHA, cycle_colors, new_figure, save
from asyncsgd.report.measures import measure
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce.cong2016.numbers import learner_counts, mean_of
from asyncsgd.reproduce.cong2016.plan import SPEEDUP
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, select, settings_line, summary_values
from asyncsgd.stats import Speedup, speedup, speedups
from asyncsgd.theory.bound import DelayCheck, delay_checks

RATES = (("practical", "practical rate"), ("predicted", "predicted rate (lr = auto)"))


def target_of(view: SweepView) -> float:
    """The target accuracy the sweep file names in its ``engine_seconds_to:TARGET`` measure."""
    for table in view.definition.get("report", {}).get("tables", []):
        for spec in table.get("measures", []):
            if spec.startswith("engine_seconds_to:"):
                return float(spec.partition(":")[2])
    return 0.9


def per_seed(runs: list[RunView], spec: str) -> dict[int, float | None]:
    m = measure(spec)
    return {int(r.setting("seed")): m.value(r) for r in runs}


def measured_speedups(view: SweepView, method: str, target: float) -> tuple[list[Speedup], list[Speedup]]:
    """``S(p)`` from simulated time and the cost ``K_p/K_1`` from updates, both paired by seed."""
    learners = learner_counts(view)
    times = {p: per_seed(select(view.runs, method=method, learners=p), f"engine_seconds_to:{target}")
             for p in learners}  # fmt: skip
    updates = {p: per_seed(select(view.runs, method=method, learners=p), f"updates_to:{target}")
               for p in learners}  # fmt: skip
    base, every = learners[0], _eval_every(view)
    costs = [speedup(updates[p], updates[base], p) for p in learners]  # K_p / K_1
    found = speedups(times)  # t_1 / t_p
    for i, p in enumerate(learners[1:], 1):  # the base against itself is 1 exactly, whatever the grid
        costs[i] = bracketed(costs[i], every, updates[p], updates[base])
        found[i] = bracketed(found[i], every, updates[base], updates[p])
    return found, costs


def _eval_every(view: SweepView) -> int:
    return max((int(r.setting("eval_every")) for r in view.runs if r.setting("eval_every")), default=1)


def bracketed(
    s: Speedup, every: int, above: dict[int, float | None], below: dict[int, float | None]
) -> Speedup:
    """``s`` (a ratio of the updates, or of the time, of ``above`` over ``below``) with its interval
    widened by the evaluation grid: each count is known to within ``(K − every, K]``, so the ratio's
    lower end may fall by ``1 − every/K_above`` and its upper end rise by ``1/(1 − every/K_below)``,
    with the smallest K of each side's seeds (the time to the target scales with the updates near it).
    A side reached at the first evaluation leaves that end open (0 or ∞)."""
    if s.interval is None:
        return s

    def smallest(counts: dict[int, float | None]) -> float:
        reached = [k for k in counts.values() if k is not None]
        return min(reached) if reached else math.inf

    shrink = max(0.0, 1 - every / smallest(above))
    room = 1 - every / smallest(below)
    grow = math.inf if room <= 0 else 1 / room
    return dataclasses.replace(s, interval=(s.interval[0] * shrink, s.interval[1] * grow))


def theory_checks(view: SweepView, method: str, p: int) -> tuple[float, list[DelayCheck]] | None:
    """Lian's conditions for the runs of ``method`` with p learners. α and L come from the
    predicted-rate runs with the same p (same data, model, probe and budget K, so the same α and
    L); τ p95 is the mean over seeds, τ max the largest over seeds."""
    predicted = select(view.runs, method="predicted", learners=p)
    alphas = summary_values(predicted, "lr_source", "prediction", "alpha")
    ls = summary_values(predicted, "lr_source", "prediction", "inputs", "lipschitz")
    runs = select(view.runs, method=method, learners=p)
    lrs = summary_values(runs, "lr")
    if not (alphas and ls and lrs):
        return None
    p95, worst = mean_of(runs, "tau_p95"), max(summary_values(runs, "staleness", "max"), default=None)
    alpha, u = statistics.fmean(alphas), statistics.fmean(ls) * statistics.fmean(lrs)
    return alpha, delay_checks(alpha, u, p, p95, worst)


def interval_text(s: Speedup) -> str:
    if s.value is None:
        return "not reached"
    ci = "" if s.interval is None else f" [{s.interval[0]:.2f}, {s.interval[1]:.2f}]".replace("inf", "∞")
    missing = f", {s.missing} not reached" if s.missing else ""
    return f"{s.value:.2f}{ci} (n = {s.n}{missing})"


def failures(checks: list[DelayCheck]) -> str:
    failed = [f"{c.label}: {', '.join(c.fails)}" for c in checks if c.fails]
    return "; ".join(failed) if failed else "none"


def speedup_section(doc: Document, res: StudyResults) -> None:
    view = res.view(SPEEDUP)
    target = target_of(view)
    learners = learner_counts(view)
    doc.heading("(e) Speed-up against p: time to a target accuracy")
    doc.paragraph(
        "The study's claim is that asynchronous SGD does not speed up linearly with p; its slides show "
        "accuracy against epochs, never time. Here: the simulated time until the test accuracy first "
        f"reaches {100 * target:g}%, for p = {', '.join(map(str, learners))} "
        f"({settings_line(view, ('dataset', 'model', 'hidden', 'batch_size', 'epochs', 'delay'))}; "
        "one simulated second is one gradient's mean compute time), at the practical rate and at the "
        "predicted one. S(p) = t₁/t_p, the geometric mean of the ratios paired by seed with a 95% "
        "t-interval, widened by the evaluation grid (a run reaches the target somewhere in the "
        "updates since its previous evaluation); the cost of p learners is K_p/K₁, the updates needed "
        "to reach the target with p learners over those with one (1 = no cost). Beside it, the ratio of "
        "optimal guarantees R_p/R₁ "
        "that bound (1) predicts from the measured α (`asyncsgd.theory.delay_checks`), with the study's "
        "T = p and with the delay bound T the runs measured (τ p95 and τ max). A run that never reaches "
        "the target within the budget is left out of the pairs and counted as not reached.",
    )
    findings = []
    for method, name in RATES:
        if not select(view.runs, method=method):
            continue
        s_list, costs = measured_speedups(view, method, target)
        rows = []
        for s, cost in zip(s_list, costs, strict=True):
            p = s.learners
            checks = theory_checks(view, method, p)
            ratios = ["–", "–", "–"] if checks is None else [f"{c.ratio:.2f}" for c in checks[1]]
            ratios += ["–"] * (3 - len(ratios))
            rows.append([str(p), interval_text(s), interval_text(cost), *ratios,
                         "–" if checks is None else failures(checks[1])])  # fmt: skip
        doc.table(
            ["p", "S(p) = t₁/t_p", "cost K_p/K₁", "R_p/R₁ (T = p)", "R_p/R₁ (T = τ p95)",
             "R_p/R₁ (T = τ max)", "Lian's conditions that fail"], rows,
            caption=f"{name.capitalize()}: speed-up and cost to {100 * target:g}% test accuracy "
            "(geometric mean over seeds, 95% interval), and the ratio of guarantees bound (1) predicts.",
        )  # fmt: skip
        findings.extend(_findings(view, method, name, s_list, costs))
    doc.image(speedup_figure(res, view, target),
              "S(p) against p with 95% intervals, both rates (dashed: linear speed-up)")  # fmt: skip
    fig = Figure("staleness", facet="method", lines=("learners",), title="Staleness of applied pushes")
    doc.image(res.figure(SPEEDUP, fig), "Staleness of applied pushes, one line per p, one panel per rate")
    doc.bullets(findings)


def _findings(
    view: SweepView, method: str, name: str, s_list: list[Speedup], costs: list[Speedup]
) -> list[str]:
    out = []
    reached = [s for s in s_list if s.value is not None]
    if reached:
        best = max(reached, key=lambda s: s.value or 0.0)
        never = [str(s.learners) for s in s_list if s.value is None]
        out.append(
            f"{name.capitalize()}: the largest speed-up is S({best.learners}) = {best.value:.2f} "
            f"against the linear {best.learners}"
            + (f"; never reached with p = {', '.join(never)}" if never else "")
            + "."
        )
    for cost in costs:
        checks = theory_checks(view, method, cost.learners)
        if cost.value is None or checks is None or cost.learners == costs[0].learners:
            continue
        by_label = {c.label: c for c in checks[1]}
        tp, tmax = by_label.get("T = p"), by_label.get("T = τ max")
        if tp is not None and tmax is not None and cost.learners == max(c.learners for c in costs):
            out.append(
                f"{name.capitalize()}, p = {cost.learners}: reaching the target costs {cost.value:.2f}× "
                f"the updates of one learner; bound (1) predicts {tp.ratio:.2f}× with T = p and "
                f"{tmax.ratio:.2f}× with the measured τ max = {tmax.delay:g} (α = {checks[0]:.3g})."
            )
    return out


def speedup_figure(res: StudyResults, view: SweepView, target: float) -> Path:
    """S(p) against p on log-log axes, one line per rate, 95% intervals as error bars."""
    path = res.next_figure("speedup")
    fig, ax = new_figure(1, 1, figsize=(6, 4.2))
    learners = learner_counts(view)
    ax.plot(learners, learners, ls="--", color="gray", label="linear S(p) = p")
    for color, (method, name) in zip(cycle_colors(), RATES, strict=False):
        found = [s for s in measured_speedups(view, method, target)[0] if s.value is not None]
        if not found:
            continue
        values = [s.value or 0.0 for s in found]
        low = [v - (s.interval[0] if s.interval else v) for s, v in zip(found, values, strict=True)]
        high = [(s.interval[1] if s.interval else v) - v for s, v in zip(found, values, strict=True)]
        ax.errorbar([s.learners for s in found], values, yerr=[low, high], marker="o", capsize=3,
                    color=color, label=name)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("learners p")
    ax.set_ylabel(f"S(p) = t₁/t_p to {100 * target:g}% test accuracy")
    ax.grid(alpha=GRID_ALPHA)
    ax.legend(fontsize=8)
    return save(fig, path, dpi=100)
