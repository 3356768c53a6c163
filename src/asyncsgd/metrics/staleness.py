"""Summary statistics of a staleness histogram (exact: every τ is an integer count)."""

from __future__ import annotations

from collections import Counter


def histogram(counts: Counter[int]) -> list[int]:
    """``h[τ]`` = number of applied pushes with staleness τ, for τ = 0 … max."""
    if not counts:
        return []
    out = [0] * (max(counts) + 1)
    for tau, n in counts.items():
        out[tau] = n
    return out


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
    total = sum(counts.values())
    if total == 0:
        return {"count": 0, "min": None, "mean": None, "p50": None, "p95": None, "max": None, "histogram": []}
    return {
        "count": total,
        "min": min(counts),
        "mean": sum(t * n for t, n in counts.items()) / total,
        "p50": quantile(counts, 0.5),
        "p95": quantile(counts, 0.95),
        "max": max(counts),
        "histogram": histogram(counts),
    }
