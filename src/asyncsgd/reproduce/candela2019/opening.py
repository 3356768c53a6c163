"""The report's opening: the verdict table (claim, published wording, our result, outcome, the
settings it holds in), the verdict sentence, the decision rule as its file states it, and every
comparison behind them with its interval and, where inconclusive, the seeds that would settle it."""

from __future__ import annotations

from collections.abc import Sequence

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019.numbers import method_table
from asyncsgd.reproduce.candela2019.plan import ALTERNATIVES, BASELINE, CONTEXT
from asyncsgd.reproduce.candela2019.verdict import (
    CLAIMS,
    GRADIENT,
    OUTCOME_OF,
    PRIMARY,
    SUMMARIES,
    Comparison,
    Verdict,
    comparisons,
    judge,
    summary,
    views,
)
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.stats import BETTER, EQUIVALENT, JUDGEMENTS


def tally(found: Sequence[Comparison]) -> str:
    """How many comparisons had each outcome, e.g. ``better 3, inconclusive 1``."""
    counted = [c.outcome for c in found]
    return ", ".join(f"{o} {counted.count(o)}" for o in JUDGEMENTS if counted.count(o)) or "none"


def holds_in(found: Sequence[Comparison], outcome: str) -> str:
    """The settings (and lines) whose comparison came out ``outcome``."""
    return (
        ", ".join(f"{c.setting} ({c.method} vs {c.against})" for c in found if c.outcome == outcome) or "none"
    )


def statement(v: Verdict) -> str:
    """The verdict sentence, chosen by :func:`claim` (nothing in it is typed by hand but the words)."""
    key = v.claim
    if key == "first":
        return (
            f'The data support the **first version\'s** claim, "{pub.CANDELA_V1_CLAIM}": where staleness '
            "hurts, top-k with error feedback beats Downpour and the staleness remedies."
        )
    if key == "first-vanilla":
        return (
            "The data support the first version's claim **only against vanilla SGD**: where staleness "
            "hurts, top-k with error feedback beats Downpour, but against the staleness remedies the "
            f'rule says *{v.alternatives_rule}*, so "{pub.CANDELA_V1_CLAIM}" does not hold in full.'
        )
    if key == "later":
        return (
            f'The data support the **later version\'s** claim, "{pub.CANDELA_LATER_CLAIM}": where '
            "staleness hurts, top-k with error feedback is equivalent to Downpour within the stated "
            "margin."
        )
    if key == "neither-harms":
        return (
            "The data support **neither** claim: where staleness hurts, top-k with error feedback is "
            "*worse* than Downpour, so its effect is neither an improvement nor negligible."
        )
    if key == "neither-mixed":
        return (
            "The data support **neither** claim across the board: where staleness hurts, top-k with "
            "error feedback is better than Downpour in some settings and not in others (see the "
            "table)."
        )
    if key == "no-hurt":
        return (
            "**No verdict**: staleness costs Downpour no more than the stated margin in any setting, so "
            "no remedy could show an effect here."
        )
    return (
        "**No verdict: not enough data.** Where staleness hurts, most comparisons are inconclusive "
        "(their interval reaches past the margin without excluding zero); the table says how many "
        "seeds would settle each."
    )


def verdict_table(doc: Document, v: Verdict, more: Sequence[Sequence[str]] = ()) -> None:
    hurt_base, other_base = v.split(v.against_baseline)
    hurt_alt = v.split(v.against_alternatives)[0]
    everywhere = summary([c.outcome for c in v.against_baseline])
    rows = [
        [
            "sparsification improves on vanilla asynchronous SGD where staleness hurts",
            f'"{pub.CANDELA_V1_CLAIM}" ({pub.CANDELA_V1})',
            tally(hurt_base),
            OUTCOME_OF[v.hurts_rule],
            holds_in(hurt_base, BETTER),
        ],
        [
            "… and on the current staleness remedies",
            f"({pub.CANDELA_V1})",
            tally(hurt_alt),
            OUTCOME_OF[v.alternatives_rule],
            holds_in(hurt_alt, BETTER),
        ],
        [
            "its effect is negligible (equivalent within the margin), where staleness hurts",
            f'"{pub.CANDELA_LATER_CLAIM}" ({pub.CANDELA_LATER})',
            tally(hurt_base),
            OUTCOME_OF[v.hurts_rule],
            holds_in(hurt_base, EQUIVALENT),
        ],
        [
            "… where staleness does not hurt",
            f"({pub.CANDELA_LATER})",
            tally(other_base),
            OUTCOME_OF[v.elsewhere_rule],
            holds_in(other_base, EQUIVALENT),
        ],
        [
            "… over every setting",
            f"({pub.CANDELA_LATER})",
            tally(v.against_baseline),
            OUTCOME_OF[everywhere],
            holds_in(v.against_baseline, EQUIVALENT),
        ],
        *more,
    ]
    doc.table(
        [
            "claim",
            "published wording",
            "our result (top-k with error feedback)",
            "outcome",
            "settings it holds in",
        ],
        rows,
        caption=f"The verdict on the {v.criterion.title}; outcome: the rule's summary of the comparisons "
        "(better / worse / equivalent / inconclusive, or mixed); for the rate, whether the fitted slope "
        "is consistent with the bound or contradicts it (its section).",
    )


def verdict_section(doc: Document, res: StudyResults, extra: Sequence[Sequence[str]] = ()) -> None:
    """The opening; ``extra``: the verdict table's rows of the other parts (e.g. the tuned rates)."""
    main, check = judge(res, PRIMARY), judge(res, GRADIENT)
    rule = main.rule
    doc.heading("Verdict")
    verdict_table(doc, main, extra)
    doc.paragraph(statement(main))
    listed = ", ".join(f"{s}: {c:.1f}" for s, c in main.costs.items()) or "none"
    doc.paragraph(
        f"**Where staleness hurts.** Downpour ends more than {rule.hurts:g} points of test accuracy below "
        "the run without staleness (synchronous SGD with the same p, or sequential SGD) in "
        f"{len(main.hurt)} of {len(main.costs)} settings (points lost per setting: {listed}). There, top-k "
        f"with error feedback against Downpour: {tally(main.split(main.against_baseline)[0])} "
        f"(*{main.hurts_rule}*); against the remedies ({', '.join(ALTERNATIVES)}): "
        f"{tally(main.split(main.against_alternatives)[0])} (*{main.alternatives_rule}*). Where it does not: "
        f"{tally(main.split(main.against_baseline)[1])} (*{main.elsewhere_rule}*). The same rule on the "
        f"{GRADIENT.title}, the quantity the theorem bounds, where staleness hurts: "
        f"{tally(check.split(check.against_baseline)[0])} (*{check.hurts_rule}*), which supports "
        f"{CLAIMS[check.claim]}"
        + (", in agreement with the accuracy." if check.claim == main.claim else ", unlike the accuracy."),
    )
    doc.paragraph(
        f"**The decision rule**, stated in `{rule.source}` (committed with the sweep files before "
        "the runs; the commit is in the repository's history) and applied by the report's code:"
    )
    doc.bullets(
        [
            "In each setting (each p of the delay model, each fixed τ) and for each line (a method at a "
            "ratio), pair the runs of the two methods by seed (the same seed gives both the same initial "
            "model, data order and staleness schedule) and take the differences d_s of a score where larger "
            f"is better: the {PRIMARY.title} in percentage points, or for the {GRADIENT.title} "
            "ln(baseline/method).",
            f"From the n differences, the {1 - 2 * rule.alpha:.0%} Student-t interval d̄ ± t(1−α, n−1)·SE "
            f"with α = {rule.alpha:g}. **equivalent** if it lies inside ±m (two one-sided tests at level α "
            f"reject a difference of m or more), with m = {rule.margin:g} points of accuracy or ln(1 + "
            f"{rule.gradient_margin:g}) of the gradient norm; else **better** if it lies above 0, "
            "**worse** if below; else **inconclusive**, with the seeds that would settle it if the spread "
            f"stayed as measured (at most {rule.max_seeds}).",
            f"Staleness **hurts** a setting when Downpour's mean accuracy is more than {rule.hurts:g} "
            "points below the staleness-free reference's. Over a group of comparisons: "
            + "; ".join(f"**{k}** if {w}" for k, w in SUMMARIES.items())
            + ".",
            "The first version's claim needs *improves* against Downpour and against the remedies where "
            'staleness hurts; the later version\'s ("negligible") needs *no effect* there.',
        ]
    )
    _comparison_table(
        doc,
        main,
        check,
        main.against_baseline,
        check.against_baseline,
        "Every comparison behind the verdict: top-k with error feedback against Downpour.",
    )
    _comparison_table(
        doc,
        main,
        check,
        main.against_alternatives,
        check.against_alternatives,
        "Top-k with error feedback against the staleness remedies.",
    )
    _context(doc, res, main)


def _rule(found: Sequence[Comparison]) -> str:
    return summary([c.outcome for c in found])


def _context(doc: Document, res: StudyResults, main: Verdict) -> None:
    found = []
    for method in CONTEXT:
        if not any(method_table(v, method) for v, _ in views(res)):
            continue
        cs = [c for v, a in views(res) for c in comparisons(v, a, method, BASELINE, main.rule)]
        hurt, other = main.split(cs)
        found.append(
            f"`{method}` against Downpour where staleness hurts: {tally(hurt)} → *{_rule(hurt)}*; "
            f"elsewhere: {tally(other)} → *{_rule(other)}*."
        )
    doc.paragraph(
        f"The same rule on the {PRIMARY.title} for the other sparsifiers and remedies, for context:"
    )
    doc.bullets(found)


def _comparison_table(
    doc: Document,
    main: Verdict,
    check: Verdict,
    accuracy: list[Comparison],
    gradient: list[Comparison],
    caption: str,
) -> None:
    """The same comparisons on both criteria, one row each."""
    doc.table(
        [
            "setting",
            "staleness hurts",
            "method",
            "against",
            f"d̄ [interval] ({PRIMARY.unit})",
            "seeds",
            "seeds to settle",
            f"d̄ [interval], {GRADIENT.title}",
        ],
        [
            [
                c.setting,
                "yes" if c.setting in main.hurt else "no",
                c.method,
                c.against,
                c.text(),
                str(c.n),
                c.needed(main.rule),
                g.text(3),
            ]
            for c, g in zip(accuracy, gradient, strict=True)
        ],
        caption=caption,
    )
