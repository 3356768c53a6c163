"""Links that cost time: p learners whose messages take ``latency + bytes / bandwidth`` simulated
seconds (a push its codec's encoded bytes, a pull the dense model), at links where a dense push is
free, comparable to a gradient's mean compute time and dominant. Each link's cost is read back
from the runs as a ratio: bytes per push / bandwidth / ``delay_mean``.

In the simulator's asynchronous protocol every learner always has exactly one gradient in flight,
so each applied update makes the p − 1 gradients of the other learners one version older: the mean
τ of the applied pushes is p − 1 (less a start-up term of order p²/K) whatever the delay model or
the link. A shorter push shortens the learner's cycle, and everyone's cycle alike, so it buys
updates per simulated second, not a smaller mean τ; what a link's fixed cost changes is the
spread of τ (a cycle of a constant transfer plus an exponential compute time varies less). The
section shows both, and judges each sparsifier against Downpour at the same link with the study's
decision rule."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from asyncsgd.report.measures import measure
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce.candela2019.numbers import lines, runs_at, values
from asyncsgd.reproduce.candela2019.opening import holds_in, tally
from asyncsgd.reproduce.candela2019.plan import BASELINE, LINE_KEYS, LINKS, REFERENCES, SPARSIFIED, Axis
from asyncsgd.reproduce.candela2019.rule import Rule
from asyncsgd.reproduce.candela2019.verdict import OUTCOME_OF, Comparison, comparisons, rule_of, summary
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, aggregate, cell, settings_line, summary_values
from asyncsgd.stats import BETTER

__all__ = [
    "AXIS",
    "cost_ratio",
    "costly_comparisons",
    "free_note",
    "link_comparisons",
    "link_costs",
    "links_section",
]


@dataclass(frozen=True)
class Bandwidth(Axis):
    """The link axis, its values in bytes per second."""

    def label(self, value: object) -> str:
        v = float(value)  # type: ignore[arg-type]
        return f"{self.symbol} = inf" if math.isinf(v) else f"{self.symbol} = {v:,.0f} B/s"


AXIS = Bandwidth("bandwidth", "bandwidth")
COLUMNS = ("tau_mean", "tau_p95", "test_accuracy", "engine_seconds", "engine_seconds_to:0.9")


def cost_ratio(run: RunView, dense: bool = False) -> float | None:
    """Simulated seconds of one push (the dense model's with ``dense``) over the mean compute time
    of a gradient: ``(latency + bytes / bandwidth) / delay_mean``; None without its numbers."""
    key = "dense_push" if dense else "up_per_push"
    found = summary_values([run], "bytes", key)
    bandwidth, latency, mean = (run.setting(k) for k in ("bandwidth", "latency", "delay_mean"))
    if not found or not isinstance(mean, int | float) or mean <= 0:
        return None
    transfer = 0.0 if bandwidth is None or math.isinf(float(bandwidth)) else found[0] / float(bandwidth)
    return (float(latency or 0.0) + transfer) / float(mean)


def _mean_ratio(runs: Sequence[RunView], dense: bool = False) -> float | None:
    found = [v for r in runs if (v := cost_ratio(r, dense)) is not None]
    return statistics.fmean(found) if found else None


def _ratio_text(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def settings(view: SweepView) -> list[object]:
    """The links from the free one to the dearest (bandwidth from largest to smallest)."""
    return list(reversed(values(view, AXIS)))


def link_name(view: SweepView, value: object) -> str:
    """``bandwidth = …: a dense push of N kB takes r mean compute times`` from the runs."""
    runs = [r for r in view.runs if r.done and r.setting(AXIS.key) == value]
    dense = summary_values(runs, "bytes", "dense_push")
    ratio = _mean_ratio(runs, dense=True)
    if not dense or ratio is None:
        return AXIS.label(value)
    if ratio == 0:
        return f"{AXIS.label(value)}: a push costs no simulated time"
    return (
        f"{AXIS.label(value)}: a dense push of {dense[0] / 1e3:,.0f} kB takes {ratio:.3g} mean compute times"
    )


def link_costs(view: SweepView, name: str = "test_accuracy") -> dict[str, float]:
    """Per link, the points of measure ``name`` Downpour loses against synchronous SGD there."""
    get, out = measure(name).value, {}
    for value in settings(view):
        ref = [v for r in runs_at(view, AXIS, REFERENCES["delays"], value) if (v := get(r)) is not None]
        base = [v for r in runs_at(view, AXIS, BASELINE, value) if (v := get(r)) is not None]
        if ref and base:
            out[AXIS.label(value)] = statistics.fmean(ref) - statistics.fmean(base)
    return out


def link_comparisons(res: StudyResults, rule: Rule, method: str = SPARSIFIED) -> list[Comparison]:
    """Every line of ``method`` against Downpour at each link, paired by seed."""
    return comparisons(res.view(LINKS), AXIS, method, BASELINE, rule)


def costly(view: SweepView, found: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons at links where a push costs simulated time."""
    free = {AXIS.label(v) for v in values(view, AXIS) if math.isinf(float(v))}  # type: ignore[arg-type]
    return [c for c in found if c.setting not in free]


def costly_comparisons(res: StudyResults, rule: Rule) -> list[Comparison]:
    """Top-k with error feedback against Downpour at every link where a push costs time."""
    return costly(res.view(LINKS), link_comparisons(res, rule))


def free_note(view: SweepView) -> str:
    """What the links of a delays or fixed sweep are, and what that implies for τ."""
    found = {(r.setting("bandwidth"), r.setting("latency")) for r in view.runs}
    links = ", ".join(f"`bandwidth = {b}`, `latency = {t}`" for b, t in sorted(found, key=str))
    if any(b not in (None, math.inf) or t for b, t in found):
        return f"Links: {links}."
    return (
        f"Links here are free ({links or '`bandwidth = inf`'}: infinite bandwidth, no latency): a push or "
        "pull costs no simulated time, so the schedule of pushes, and with it τ, is the same for every "
        "asynchronous method by construction; only the section on links that cost time lets a short "
        "push arrive sooner."
    )


def _row(view: SweepView, value: object, line: str, judged: dict[tuple[str, str], Comparison]) -> list[str]:
    runs = runs_at(view, AXIS, line, value)
    cells = [cell(aggregate(runs, name), measure(name).digits) for name in COLUMNS]
    c = judged.get((AXIS.label(value), line))
    against = "" if line.split(" ")[0] == BASELINE else ("–" if c is None else c.text())
    return [line, _ratio_text(_mean_ratio(runs)), *cells, against]


def _taus(view: SweepView, value: object, name: str) -> list[float]:
    """Measure ``name`` (a τ statistic) of each asynchronous line at link ``value``, mean over seeds."""
    out = []
    for line in lines(view):
        runs = [r for r in runs_at(view, AXIS, line, value) if r.setting("protocol") != "sync"]
        if (agg := aggregate(runs, name)).mean is not None:
            out.append(agg.mean)
    return out


def _span(view: SweepView, value: object, name: str, digits: int) -> str:
    found = _taus(view, value, name)
    return "–" if not found else f"{min(found):.{digits}f} to {max(found):.{digits}f}"


def links_section(doc: Document, res: StudyResults) -> None:
    view, rule = res.view(LINKS), rule_of(res)
    links = settings(view)
    learners = sorted({str(r.setting("learners")) for r in view.runs})
    doc.heading(f"Links that cost time: p = {', '.join(learners)}")
    if view.description:
        doc.paragraph(view.description)
    doc.paragraph(f"Settings: {settings_line(view, ('learners', 'delay', 'delay_mean', 'latency'))}.")
    doc.paragraph(
        "The simulator charges every message latency + bytes / bandwidth of simulated time: a push "
        "its codec's encoded bytes (top-k: 4-byte values and 4-byte indices), a pull the whole dense "
        "model, so a sparsified learner still pulls densely. The links, each read back from the runs "
        "(bytes / bandwidth / delay_mean): " + "; ".join(link_name(view, v) for v in links) + ".",
    )
    per_link = "; ".join(
        f"{AXIS.label(v)}: mean τ {_span(view, v, 'tau_mean', 2)}, p95 {_span(view, v, 'tau_p95', 0)}"
        for v in links
    )
    doc.paragraph(
        "**τ at each link.** Every learner always has one gradient in flight, so each applied update "
        "ages the other learners' p − 1 gradients by one version: the mean τ of the applied pushes is "
        "p − 1 (less a start-up term) whatever the link, and a short push, which shortens every "
        "learner's cycle alike, buys updates per simulated second rather than a smaller τ counted in "
        f"updates. Measured over the asynchronous methods: {per_link}. A link's fixed cost makes the "
        "learners' cycles more alike, so the schedule nears a round robin in which nearly every push has "
        "τ ≈ p − 1: the regime of the fixed-staleness section, not the spread of the free links.",
    )
    found = link_comparisons(res, rule)
    judged = {(c.setting, c.method): c for c in found}
    costs = link_costs(view)
    hurt = {s for s, c in costs.items() if c > rule.hurts}
    rows = [[AXIS.label(v), *_row(view, v, line, judged)] for v in links for line in lines(view)]
    doc.table(
        ["link", "method", "push / compute", *(measure(n).header for n in COLUMNS),
         f"against {BASELINE} (d̄ [interval], points)"],
        rows,
        caption="Mean ± std over seeds. push / compute: simulated seconds of one push over delay_mean, "
        "from the runs' bytes per push; engine s: simulated seconds of the run; the last column: the "
        "decision rule on the final test accuracy at the same number of updates, paired by seed.",
    )  # fmt: skip
    listed = ", ".join(f"{s}: {c:.1f}" for s, c in costs.items()) or "none"
    mine = costly(view, found)
    there, everywhere = (summary([c.outcome for c in group]) for group in (mine, found))
    doc.paragraph(
        f"Points Downpour loses against synchronous SGD at each link: {listed} (staleness hurts, by "
        f"the rule's {rule.hurts:g} points, at {len(hurt)} of {len(costs)} links). Top-k with error "
        f"feedback against Downpour where a push costs time: {tally(mine)} → *{there}*; at every "
        f"link: {tally(found)} → *{everywhere}*.",
    )  # fmt: skip
    asynchronous = [r for r in view.runs if r.setting("protocol") != "sync"]
    fig = Figure("curve", "test_accuracy", "time", facet=AXIS.key, lines=LINE_KEYS,
                 title="Test accuracy against simulated time (asynchronous methods)")  # fmt: skip
    doc.image(
        res.figure(LINKS, fig, asynchronous),
        "Test accuracy against simulated wall-clock time, one panel per link; synchronous SGD, whose "
        "updates each wait for p gradients, is left out to keep the axis readable (its times are in the "
        "table)",
    )
    fig = Figure("curve", "test_accuracy", "update", facet=AXIS.key, lines=LINE_KEYS,
                 title="Test accuracy against server updates")  # fmt: skip
    doc.image(res.figure(LINKS, fig), "Test accuracy against server updates, one panel per link")
    fig = Figure("staleness", facet=AXIS.key, lines=("method",), title="Distribution of τ at each link")
    doc.image(res.figure(LINKS, fig), "Staleness distribution, one panel per link")


def verdict_row(res: StudyResults) -> list[str]:
    """The verdict table's row: top-k against Downpour on links that cost time."""
    links = costly_comparisons(res, rule_of(res))
    return [
        "sparsification improves on Downpour where links cost time (a push takes simulated time), "
        "at the same number of updates",
        "none published (the mechanism tested: a sparse push arrives sooner)",
        tally(links), OUTCOME_OF[summary([c.outcome for c in links])], holds_in(links, BETTER),
    ]  # fmt: skip
