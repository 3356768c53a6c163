"""Summary statistics of a staleness histogram (exact: every τ is an integer count)."""

from __future__ import annotations

from collections import Counter

from asyncsgd.vocabulary.reporting import tau_histogram


def quantile(counts: Counter[int], q: float) -> int | None:
    """Nearest-rank quantile: the smallest τ with at least a fraction ``q`` of pushes at or below."""
    total = sum(counts.values())
    if total == 0:
        return None
    need, seen = q * total, 0
    for tau in sorted(counts):
        seen += counts[tau]
        if seen >= need:
            return tau
    return max(counts)


def staleness_summary(counts: Counter[int]) -> dict[str, object]:
    """The engines' histogram (:func:`~asyncsgd.vocabulary.reporting.tau_histogram`) with the
    smallest τ and the median and 95th percentile."""
    base = tau_histogram(counts)
    empty = base["count"] == 0
    return {
        "count": base["count"],
        "min": None if empty else min(counts),
        "mean": base["mean"],
        "p50": quantile(counts, 0.5),
        "p95": quantile(counts, 0.95),
        "max": base["max"],
        "histogram": base["histogram"],
    }
