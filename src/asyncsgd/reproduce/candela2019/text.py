"""The report's words: the verdict sentence and its evidence, the choices the study leaves open,
and the tables and figures of both sweeps; every number in them is read from the results."""

from __future__ import annotations

from asyncsgd.report.measures import MEASURES, measure
from asyncsgd.report.recipe import recipe_for
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019.links import free_note, links_section
from asyncsgd.reproduce.candela2019.links import verdict_row as links_row
from asyncsgd.reproduce.candela2019.numbers import (
    count,
    lines,
    method_table,
    ratios,
    runs_at,
    table_measures,
    values,
)
from asyncsgd.reproduce.candela2019.opening import statement, verdict_section
from asyncsgd.reproduce.candela2019.plan import AXES, DATA_KEYS, DELAYS, FIXED, LINE_KEYS
from asyncsgd.reproduce.candela2019.rate import rate_section
from asyncsgd.reproduce.candela2019.rate import verdict_row as rate_row
from asyncsgd.reproduce.candela2019.tuned import section as tuned_section
from asyncsgd.reproduce.candela2019.tuned import verdict_rows as tuned_rows
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import (
    StudyResults,
    aggregate,
    cell,
    provenance_section,
    scale,
    settings_line,
    summary_values,
)

__all__ = ["report", "statement"]


def choices_section(doc: Document, res: StudyResults) -> None:
    delays, fixed = res.view(DELAYS), res.view(FIXED)
    dc = method_table(delays, "dc-asgd")
    sync, sgd = method_table(delays, "sync"), method_table(fixed, "sgd")
    lr_remedy = method_table(delays, "staleness-lr").get("remedy", "–")
    points = summary_values([r for r in delays.runs if r.done], "grad_norm_sq", "points")
    doc.heading("What the study leaves open, and what this reproduction chose")
    doc.paragraph(
        f"Neither version publicly states {pub.CANDELA_NOT_PUBLISHED} (research notes, section 1.4). "
        "Our choices, all visible in the sweep files:",
    )
    doc.bullets([
        f"Data and model: {settings_line(delays, DATA_KEYS)}; "
        "every method gets the same number K of server updates (the theorem's T).",
        "Sparsification is applied by the learners to their pushes (`codec`): top-k over the whole "
        f"vector at ratios {ratios(delays, 'topk-ef')} with error feedback and {ratios(delays, 'topk')} "
        "without; error feedback keeps the raw dropped gradient and adds it to the next push (Stich et "
        f"al.'s memory with γ factored out); per-layer top-k with error feedback (`scope = \"layer\"`, k "
        f"of each layer's entries) at {ratios(delays, 'topk-ef-layer')}; random-k at "
        f"{ratios(delays, 'randomk-ef')} with the same memory, at {ratios(delays, 'randomk')} biased (the "
        f"kept entries as they are) and at {ratios(delays, 'randomk-unbiased')} unbiased (scaled by d/k); "
        "every sparsifier runs at every p and every τ.",
        "Staleness from the delay model: p simulated learners with "
        f"{settings_line(delays, ('delay',))} compute times (τ is measured per push). Fixed staleness: every "
        f"push applied τ updates late ({settings_line(fixed, ('delay', 'staleness_dist', 'learners'))}).",
        f"Alternatives: the staleness-aware rate γ/τ (Zhang et al. 2016, `remedy = {lr_remedy}`) "
        f"and DC-ASGD (Zheng et al. 2017, `remedy = "
        f"{dc.get('remedy', '–')}`, λ = {dc.get('dc_lambda', '–')}, m = {dc.get('dc_momentum', '–')}); "
        f"references: `protocol = {sync.get('protocol', '–')}` with p learners (the delay model's "
        "settings; each of its updates averages p gradients, so with the same K it computes p times as "
        f"many as the asynchronous methods) and `protocol = {sgd.get('protocol', '–')}` (τ = 0, the "
        "fixed sweep).",
        "‖∇f(x_t)‖² is the squared norm of the gradient of the training loss over the evaluated "
        "training set at each evaluation (`eval_grad_norm`); its ergodic average (1/T) Σ_t ‖∇f(x_t)‖², "
        "the quantity the theorem bounds, is approximated by the mean over the evaluation points "
        f"({count(points)} per run, x_1 and the last point included).",
    ])  # fmt: skip


def _describe(name: str) -> str:
    return MEASURES.entry(name.partition(":")[0]).summary


def results_section(doc: Document, res: StudyResults, part: str, title: str) -> None:
    view, axis = res.view(part), AXES[part]
    settings = values(view, axis)
    doc.heading(title)
    if view.description:
        doc.paragraph(view.description)
    doc.paragraph(free_note(view))
    for name in table_measures(view):
        m = measure(name)
        rows = []
        for line in lines(view):
            cells = [cell(aggregate(runs_at(view, axis, line, v), name), m.digits) for v in settings]
            rows.append([line, *cells])
        doc.table(["method", *(axis.label(v) for v in settings)], rows,
                  caption=f"{m.header}: mean ± std over seeds ({_describe(name)}).")  # fmt: skip
    for fig in recipe_for(view.definition).figures:
        doc.image(res.figure(part, fig, view.runs), fig.title or fig.name)
    fig = Figure("staleness", facet=axis.key, lines=("method",),
                 title="Distribution of the staleness τ of applied pushes")  # fmt: skip
    doc.image(res.figure(part, fig), "Staleness distribution, one panel per setting")
    fig = Figure("curve", "test_accuracy", "update", facet=axis.key, lines=LINE_KEYS,
                 title="Test accuracy against server updates")  # fmt: skip
    doc.image(res.figure(part, fig), "Test accuracy against server updates, one panel per setting")


def report(res: StudyResults) -> Document:
    doc = Document(f"Reproduction of Candela et al. (2019), {scale(res.plan)}")
    doc.paragraph(
        f"{pub.CANDELA}. The work proves that sparsified asynchronous SGD keeps the O(1/√T) ergodic rate "
        "of non-convex SGD under staleness; its two versions then make different empirical claims. "
        f'First version ({pub.CANDELA_V1}): "{pub.CANDELA_V1_CLAIM}". Later version '
        f'({pub.CANDELA_LATER}): "{pub.CANDELA_LATER_CLAIM}". No numbers of either version are '
        "publicly readable, so this report tests the claims, not figures.",
    )
    verdict_section(doc, res, [*tuned_rows(res), links_row(res), rate_row(res)])
    choices_section(doc, res)
    delays = values(res.view(DELAYS), AXES[DELAYS])
    taus = values(res.view(FIXED), AXES[FIXED])
    results_section(doc, res, DELAYS, f"Staleness from the delay model: p = {', '.join(map(str, delays))}")
    results_section(doc, res, FIXED, f"Fixed staleness: τ = {', '.join(map(str, taus))}")
    tuned_section(doc, res)
    rate_section(doc, res)
    links_section(doc, res)
    provenance_section(doc, res)
    return doc
