"""The capacity model's predicted curves (:mod:`asyncsgd.theory.capacity`): updates/s against p."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asyncsgd.plots.canvas import new_figure, save
from asyncsgd.plots.style import GRID_ALPHA

LINKS = {10: "-", 100: "--"}
"""Line style by link speed (Gbit/s)."""


def capacity_plot(rows: Sequence[Mapping[str, Any]], shards: Sequence[int], path: Path) -> Path:
    """One panel per (d, payload): predicted updates/s against p for each S in ``shards`` (colour)
    and link speed (line style), with unlimited servers' updates/s dotted (the learners' limit)."""
    cases = sorted({(r["parameters"], r["payload"]) for r in rows})
    fig, axes = new_figure(1, len(cases), figsize=(4.0 * len(cases), 4.0), squeeze=False, sharey=True)
    for ax, (d, payload) in zip(axes[0], cases, strict=True):
        case = [r for r in rows if (r["parameters"], r["payload"]) == (d, payload)]
        colours: dict[int, Any] = {}
        for gbits, style in LINKS.items():
            for s in shards:
                line = sorted(
                    (r["learners"], r["updates_per_s"])
                    for r in case
                    if (r["gbits"], r["shards"]) == (gbits, s)
                )
                if not line:
                    continue
                label = f"S = {s}" if gbits == min(LINKS) else None
                (drawn,) = ax.plot(
                    *zip(*line, strict=True), ls=style, marker=".", color=colours.get(s), label=label
                )
                colours[s] = drawn.get_color()
        ceiling = sorted({(r["learners"], r["unlimited_per_s"]) for r in case if r["gbits"] == max(LINKS)})
        if ceiling:
            ax.plot(*zip(*ceiling, strict=True), ls=":", color="gray", label="no server limit")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("learners p")
        ax.set_title(f"d = {d:.0e}, {payload}")
        ax.grid(alpha=GRID_ALPHA, which="both")
    axes[0][0].set_ylabel("predicted updates/s (solid 10, dashed 100 Gbit/s)")
    axes[0][0].legend(fontsize="small")
    return save(fig, path, dpi=90)
