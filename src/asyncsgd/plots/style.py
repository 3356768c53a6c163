"""What every figure shares: the grid, the colours of the phases of a learner's cycle, and colour
sequences that give a line the same colour in every panel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

GRID_ALPHA = 0.3

PHASE_COLORS = {
    "compute": "#4c72b0", "compress": "#8172b2", "pull": "#55a868", "push": "#64b5cd",
    "wait": "#c44e52", "apply": "#dd8452",
}  # fmt: skip
"""One colour per phase of a learner's cycle (computation blue and purple, communication the rest)."""


def cycle_colors() -> list[str]:
    """The colours of matplotlib's default line cycle, in order."""
    return list(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])


def group_colors(groups: Sequence[Any]) -> dict[Any, Any]:
    """One colour per group, from ``tab10`` (``tab20`` beyond ten groups), cycling past the end."""
    cmap = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    return {g: cmap(i % cmap.N) for i, g in enumerate(groups)}
