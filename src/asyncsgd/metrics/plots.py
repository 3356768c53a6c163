"""PNG figures of an experiment: accuracy against updates and samples, staleness histograms."""

from __future__ import annotations

from pathlib import Path

from asyncsgd.plots import GRID_ALPHA, PHASE_COLORS, new_figure, save

DPI = 110


def accuracy_plot(curves: dict[str, list[dict[str, float]]], x: str, path: Path, title: str) -> Path:
    """Test accuracy against ``x`` (``update`` or ``samples``), one line per method."""
    fig, ax = new_figure(figsize=(6.4, 4.2))
    for method, rows in curves.items():
        ax.plot([r[x] for r in rows], [100 * r["test_accuracy"] for r in rows], marker=".", label=method)
    ax.set_xlabel({"update": "server updates", "samples": "samples processed"}.get(x, x))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=GRID_ALPHA)
    ax.legend()
    return save(fig, path, dpi=DPI)


def staleness_plot(histograms: dict[str, list[int]], path: Path, title: str) -> Path:
    """Fraction of applied pushes per staleness τ, one step line per distinct histogram.

    Methods that saw the same schedule (same seed and delays) share one line and one label.
    """
    groups: dict[tuple[int, ...], list[str]] = {}
    for method, hist in histograms.items():
        groups.setdefault(tuple(hist), []).append(method)
    fig, ax = new_figure(figsize=(6.4, 4.2))
    for hist, methods in groups.items():
        total = sum(hist) or 1
        method = ", ".join(methods)
        ax.step(range(len(hist)), [h / total for h in hist], where="mid", label=method)
    ax.set_xlabel("staleness τ (server updates between pull and push)")
    ax.set_ylabel("fraction of applied pushes")
    ax.set_title(title)
    ax.grid(alpha=GRID_ALPHA)
    ax.legend()
    return save(fig, path, dpi=DPI)


def breakdown_plot(breakdowns: dict[str, dict[str, float]], path: Path, title: str) -> Path:
    """Share of learner time in each phase, one stacked bar per method (the "breakdown of epoch
    time" figure: computation against communication and waiting as p grows)."""
    fig, ax = new_figure(figsize=(max(4.0, 1.1 * len(breakdowns) + 2.5), 4.2))
    names = list(breakdowns)
    bottom = [0.0] * len(names)
    for phase, color in PHASE_COLORS.items():
        shares = []
        for name in names:
            total = sum(breakdowns[name].values()) or 1.0
            shares.append(100 * breakdowns[name].get(phase, 0.0) / total)
        ax.bar(names, shares, bottom=bottom, color=color, label=phase)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylabel("share of learner time (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for tick in ax.get_xticklabels():
        tick.set(rotation=20, ha="right")
    return save(fig, path, dpi=DPI)
