"""Figures of a sweep, one PNG each, drawn from the results database only.

``curve``: a metric against update, samples, epoch or time, one line per group (mean over
replicates, with a ±1 std band); ``final``: a measure against a setting, one line per group (mean
± std error bars); ``staleness``: the distribution of τ over applied pushes, one line per group.
Each can be faceted into one panel per value of a setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.report.measures import Aggregate, measure
from asyncsgd.report.recipe import CURVE_X, Figure
from asyncsgd.report.runs import RunView, group, label

Draw = Callable[[Figure, Sequence[RunView], Sequence[str], Path], Path]
FIGURES: Registry[Draw] = Registry("figure kind")

AXIS = {
    "update": "server updates", "samples": "samples processed", "epoch": "epochs",
    "time": "engine seconds", "wall": "wall seconds", "test_accuracy": "test accuracy (%)",
    "train_accuracy": "train accuracy (%)", "train_loss": "training loss", "test_loss": "test loss",
    "running_loss": "running mini-batch loss",
}  # fmt: skip


def _percent(metric: str) -> float:
    return 100.0 if metric.endswith("accuracy") else 1.0


def _panels(fig: Figure, runs: Sequence[RunView]) -> list[tuple[str, list[RunView]]]:
    if not fig.facet:
        return [("", list(runs))]
    by = group(runs, (fig.facet,))
    return [(label((fig.facet,), k), v) for k, v in sorted(by.items(), key=lambda kv: _order(kv[0][0]))]


def _order(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))


def _lines(fig: Figure, rows: Sequence[str]) -> tuple[str, ...]:
    if fig.lines is not None:
        return fig.lines
    return tuple(k for k in rows if k not in (fig.x, fig.facet))


def _canvas(n: int) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    nrows = math.ceil(n / cols)
    f, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.8 * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return f, flat[:n]


def _finish(f: Any, axes: list[Any], fig: Figure, path: Path) -> Path:
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
    if fig.title:
        f.suptitle(fig.title)
    f.tight_layout()
    f.savefig(path, dpi=100)
    plt.close(f)
    return path


def mean_curve(runs: Sequence[RunView], x: str, y: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean and std of ``y`` against ``x`` over runs, on the first run's x points (interpolated)."""
    series = []
    for r in runs:
        pts = [(m.get(x), m.get(y)) for m in r.metrics]
        pts = [(a, b) for a, b in pts if a is not None and b is not None]
        if pts:
            series.append(np.array(pts, dtype=np.float64))
    if not series:
        return None
    grid = series[0][:, 0]
    ys = np.stack([np.interp(grid, s[:, 0], s[:, 1]) for s in series])
    return grid, ys.mean(axis=0), ys.std(axis=0, ddof=1) if len(series) > 1 else np.zeros_like(grid)


def _check_curve(fig: Figure, where: str) -> None:
    if fig.x not in CURVE_X:
        raise ConfigError(f"{where}.x", f"a curve's x is one of {', '.join(CURVE_X)}, got {fig.x!r}")


@FIGURES.register(
    "curve", "a metric over time, one line per group (mean ± std over replicates)", check=_check_curve
)
def curve(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    panels = _panels(fig, [r for r in runs if r.done])
    f, axes = _canvas(len(panels))
    keys = _lines(fig, rows)
    scale = _percent(fig.y)
    for ax, (title, members) in zip(axes, panels, strict=True):
        for values, grp in group(members, keys).items():
            found = mean_curve(grp, fig.x, fig.y)
            if found is None:
                continue
            x, mean, std = found
            (line,) = ax.plot(x, scale * mean, label=f"{label(keys, values)} (n={len(grp)})")
            if len(grp) > 1:
                ax.fill_between(
                    x, scale * (mean - std), scale * (mean + std), color=line.get_color(), alpha=0.15
                )
        ax.set_xlabel(AXIS.get(fig.x, fig.x))
        ax.set_ylabel(AXIS.get(fig.y, fig.y))
        ax.set_title(title)
    return _finish(f, axes, fig, path)


def _check_final(fig: Figure, where: str) -> None:
    measure(fig.y)


@FIGURES.register("final", "a measure against a setting, one line per group (mean ± std)", check=_check_final)
def final(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    m = measure(fig.y)
    panels = _panels(fig, [r for r in runs if r.done])
    f, axes = _canvas(len(panels))
    keys = _lines(fig, rows)
    for ax, (title, members) in zip(axes, panels, strict=True):
        xs_all: list[float] = []
        references: list[tuple[str, Aggregate]] = []
        for values, grp in group(members, keys).items():
            points = []
            by_x: dict[Any, list[RunView]] = {}
            for r in grp:
                by_x.setdefault(r.key(fig.x), []).append(r)
            if None in by_x:  # runs that do not vary x (e.g. dense Downpour against top-k ratios)
                references.append((label(keys, values), Aggregate.of([m.value(r) for r in by_x.pop(None)])))
            for xv, rs in sorted(by_x.items(), key=lambda kv: _order(kv[0])):
                agg = Aggregate.of([m.value(r) for r in rs])
                if agg.mean is not None and isinstance(xv, int | float):
                    points.append((float(xv), agg.mean, agg.std or 0.0, agg.n))
            if points:
                arr = np.array(points)
                xs_all += list(arr[:, 0])
                n = int(arr[:, 3].max())
                ax.errorbar(arr[:, 0], arr[:, 1], yerr=arr[:, 2], marker="o", capsize=3,
                            label=f"{label(keys, values)} (n={n})")  # fmt: skip
        for name, agg in references:
            if agg.mean is not None:
                ax.axhline(agg.mean, linestyle="--", linewidth=1, label=f"{name} (n={agg.n})")
        if xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(fig.x)
        ax.set_ylabel(m.header)
        ax.set_title(title)
    return _finish(f, axes, fig, path)


@FIGURES.register(
    "staleness", "distribution of τ over applied pushes, one line per group", check=lambda f, w: None
)
def staleness(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    panels = _panels(fig, [r for r in runs if r.done])
    f, axes = _canvas(len(panels))
    keys = _lines(fig, rows)
    for ax, (title, members) in zip(axes, panels, strict=True):
        # groups that saw the same schedule (same seeds and delays) share one line, labelled by
        # the keys they agree on
        shared: dict[tuple[int, ...], list[tuple[tuple, int]]] = {}
        for values, grp in group(members, keys).items():
            width = max((len(r.histogram) for r in grp), default=0)
            total = [0] * width
            for r in grp:
                for tau, n in enumerate(r.histogram):
                    total[tau] += n
            if sum(total):
                shared.setdefault(tuple(total), []).append((values, len(grp)))
        for total, groups in shared.items():
            common = [v if all(g[i] == v for g, _ in groups) else None for i, v in enumerate(groups[0][0])]
            runs = sum(n for _, n in groups)
            extra = f"{len(groups)} groups, " if len(groups) > 1 else ""
            name = label(keys, common) if len(groups) > 1 else label(keys, groups[0][0])
            ax.step(range(len(total)), np.array(total) / sum(total), where="mid",
                    label=f"{name} ({extra}n={runs})")  # fmt: skip
        ax.set_xlabel("staleness τ (server updates between pull and push)")
        ax.set_ylabel("fraction of applied pushes")
        ax.set_title(title)
    return _finish(f, axes, fig, path)
