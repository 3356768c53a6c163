"""Part (f): the momentum confound removed. The study's EAMSGD has local momentum δ = 0.9 and its
Downpour none; here Downpour also runs with the same server momentum (heavy ball, μ = 0.9) and with
``async_momentum`` (explicit momentum lowered by the implicit 1 − 1/p, Mitliagkas et al. 2016),
beside EAMSGD over a small grid of its elastic α and exchange period τ_c. Differences are paired by
seed against the study's Downpour (no momentum), with a 95% t-interval."""

from __future__ import annotations

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce.cong2016.plan import MOMENTUM
from asyncsgd.reproduce.cong2016.speedup import per_seed
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, aggregate, cell, select, settings_line
from asyncsgd.stats import paired, t_quantile

BASELINE = "downpour"
"""The study's Downpour (no momentum): server momentum 0.9 at the shared rate may diverge."""
NAMES = {"downpour": "Downpour, no momentum", "downpour-momentum": "Downpour, server momentum 0.9",
         "async-momentum": "Downpour, async_momentum (total 0.9)"}  # fmt: skip


def groups(view: SweepView) -> list[tuple[str, list[RunView]]]:
    """One row per method, and per (α, τ_c) for EAMSGD, in the sweep file's order."""
    out: list[tuple[str, list[RunView]]] = []
    for method in dict.fromkeys(r.member.method for r in view.runs):
        runs = select(view.runs, method=method)
        if method != "eamsgd":
            out.append((NAMES.get(method, method), runs))
            continue
        cells = dict.fromkeys((r.setting("elastic_alpha"), r.setting("exchange_period")) for r in runs)
        for alpha, period in cells:
            members = select(runs, elastic_alpha=alpha, exchange_period=period)
            out.append((f"EAMSGD α = {alpha:g}, τ_c = {period}, δ = 0.9", members))
    return out


def difference(runs: list[RunView], base: list[RunView]) -> str:
    """Mean paired difference of final test accuracy (points) with a 95% t-interval."""
    a = {k: v for k, v in per_seed(runs, "test_accuracy").items() if v is not None}
    b = {k: v for k, v in per_seed(base, "test_accuracy").items() if v is not None}
    d = paired(a, b)
    if d.mean is None:
        return "–"
    ci = d.interval(t_quantile(0.975, d.n - 1)) if d.n >= 2 else None
    return f"{d.mean:+.1f}" + ("" if ci is None else f" [{ci[0]:+.1f}, {ci[1]:+.1f}]") + f" (n = {d.n})"


def momentum_section(doc: Document, res: StudyResults) -> None:
    view = res.view(MOMENTUM)
    if not select(view.runs):
        return
    doc.heading("(f) Downpour with momentum against EAMSGD: the momentum confound removed")
    keys = ("dataset", "model", "hidden", "batch_size", "lr", "epochs", "learners", "delay")
    doc.paragraph(
        "Part (b) compares EAMSGD with local momentum δ = 0.9 against Downpour without momentum, as the "
        "study did, so a gap there may be momentum's rather than elastic averaging's. Here every method "
        f"runs at {settings_line(view, keys)}: Downpour without momentum, with server momentum 0.9 "
        '(`rule = "momentum"`), with `rule = "async_momentum"` (the explicit momentum lowered by '
        "the implicit 1 − 1/p so that the total is 0.9), and EAMSGD over α and τ_c. The last column "
        f"is the paired difference against {NAMES[BASELINE]} (points, 95% interval over seeds).",
    )
    base = select(view.runs, method=BASELINE)
    rows = []
    for name, runs in groups(view):
        cells = [cell(aggregate(runs, m)) for m in ("test_accuracy", "best_test_accuracy", "train_accuracy")]
        rows.append([name, *cells, cell(aggregate(runs, "tau_mean"), 2), difference(runs, base)])
    doc.table(["method", "test acc (%)", "best test (%)", "train acc (%)", "τ mean", f"test − {BASELINE}"],
              rows, caption="Final accuracy, mean ± std over seeds.")  # fmt: skip
    fig = Figure("staleness", facet="method", title="Staleness of applied pushes, one panel per method")
    doc.image(res.figure(MOMENTUM, fig), "Staleness of applied pushes, one panel per method")
    doc.bullets(findings(groups(view), base))


def findings(rows: list[tuple[str, list[RunView]]], base: list[RunView]) -> list[str]:
    """The best EAMSGD setting and every Downpour variant, each against the baseline."""
    out = []
    means = {name: aggregate(runs, "test_accuracy").mean for name, runs in rows}
    elastic = [(name, runs) for name, runs in rows if name.startswith("EAMSGD") and means[name] is not None]
    if elastic and base:
        name, runs = max(elastic, key=lambda row: means[row[0]] or 0.0)
        out.append(f"Best EAMSGD setting: {name}, {means[name]:.1f}%; against {NAMES[BASELINE]}: "
                   f"{difference(runs, base)} points.")  # fmt: skip
    for name, runs in rows:
        if not name.startswith("EAMSGD") and name != NAMES[BASELINE] and means[name] is not None and base:
            out.append(
                f"{name}: {means[name]:.1f}%; against {NAMES[BASELINE]}: {difference(runs, base)} points."
            )
    return out
