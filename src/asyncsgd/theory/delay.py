"""The delay bound ``T`` of Lian et al.'s Assumption 2 (``τ ≤ T`` for every update).

The study sets ``T = p``, the number of learners. A finished run measures every τ; its histogram
(``h[τ]`` = number of updates with staleness τ) gives ``T`` as the largest τ seen, which is what
the assumption asks for, or a quantile, which ignores the rare extreme delays.
"""

from __future__ import annotations

import re

from asyncsgd.errors import ConfigError

_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def parse_statistic(text: str, key: str = "--staleness") -> float | None:
    """``"max"`` → None (the largest τ); ``"p95"`` → 0.95; ``"0.99"`` → 0.99."""
    text = text.strip().lower()
    if text == "max":
        return None
    match = _PERCENTILE.match(text)
    try:
        q = float(match.group(1)) / 100 if match else float(text)
    except ValueError:
        q = -1.0
    if not 0 < q <= 1:
        raise ConfigError(key, f"expected max, pNN (e.g. p95) or a fraction in (0, 1], got {text!r}")
    return q


def delay_from_histogram(histogram: list[int], quantile: float | None = None) -> int:
    """Largest τ with a nonzero count, or the nearest-rank ``quantile``: the smallest τ with at
    least that fraction of updates at or below it."""
    total = sum(histogram)
    if total <= 0:
        raise ValueError("empty staleness histogram")
    if quantile is None:
        return max(t for t, n in enumerate(histogram) if n)
    need, seen = quantile * total, 0
    for tau, n in enumerate(histogram):
        seen += n
        if seen >= need:
            return tau
    return len(histogram) - 1
