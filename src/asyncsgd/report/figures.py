"""Figures of a sweep, one PNG each, drawn from the results database only.

``curve``: a metric against update, samples, epoch or time, one line per group (mean over
replicates, with a ±1 std band); ``final``: a measure against a setting, one line per group (mean
± std error bars); ``staleness``: the distribution of τ over applied pushes, one line per group;
``breakdown``: the learners' time split into phases, one stacked bar per value of a setting
(computation against communication). Each can be faceted into one panel per value of a setting.
A group keeps its colour in every panel; with ``scale = "log"`` the mean and spread are those of
the logarithm (geometric mean, band from ×/÷ one geometric standard deviation), so the band stays
positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullLocator

from asyncsgd.errors import ConfigError
from asyncsgd.plots import GRID_ALPHA, PHASE_COLORS, group_colors, new_figure, save
from asyncsgd.registry import Registry
from asyncsgd.report.measures import COMMUNICATION, COMPUTATION, Aggregate, measure, phase_shares
from asyncsgd.report.runs import RunView, group, label
from asyncsgd.report.spec import CURVE_X, Figure

Draw = Callable[[Figure, Sequence[RunView], Sequence[str], Path], Path]
FIGURES: Registry[Draw] = Registry("figure kind")

AXIS = {
    "update": "server updates", "samples": "samples processed", "epoch": "epochs",
    "time": "engine seconds", "wall": "wall seconds", "test_accuracy": "test accuracy (%)",
    "train_accuracy": "train accuracy (%)", "train_loss": "training loss", "test_loss": "test loss",
    "running_loss": "running mini-batch loss", "grad_norm_sq": "‖∇f(x)‖² of the training loss",
}  # fmt: skip
SCALES = ("linear", "log")


def _percent(metric: str) -> float:
    return 100.0 if metric.endswith("accuracy") else 1.0


def _panels(fig: Figure, runs: Sequence[RunView]) -> list[tuple[str, list[RunView]]]:
    """One panel per value of the facet; runs whose method does not vary it (a reference such as
    sequential SGD beside fixed staleness values) appear in every panel."""
    if not fig.facet or not runs:  # no finished runs: one empty panel that says so
        return [("", list(runs))]
    by = group(runs, (fig.facet,))
    shared = by.pop((None,), []) if len(by) > 1 else []
    return [
        (label((fig.facet,), k), [*v, *shared])
        for k, v in sorted(by.items(), key=lambda kv: _order(kv[0][0]))
    ]


def _order(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))


def _lines(fig: Figure, rows: Sequence[str]) -> tuple[str, ...]:
    if fig.lines is not None:
        return fig.lines
    return tuple(k for k in rows if k not in (fig.x, fig.facet))


def _canvas(n: int) -> tuple[Any, list[Any]]:
    cols = 2 if n == 4 else min(n, 3)
    nrows = math.ceil(n / cols)
    f, axes = new_figure(nrows, cols, figsize=(5.2 * cols, 3.8 * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return f, flat[:n]


SHARED_LEGEND = 5
"""Lines beyond which the panels share one legend beside them instead of one each over the data."""


def _finish(f: Any, axes: list[Any], fig: Figure, path: Path) -> Path:
    handles: dict[str, Any] = {}
    for ax in axes:
        ax.grid(alpha=GRID_ALPHA)
        for h, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, h)
        if not ax.get_legend_handles_labels()[0]:
            ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
    shared = len(handles) > SHARED_LEGEND
    for ax in axes:
        if ax.get_legend_handles_labels()[0] and ax.get_legend() is None and not shared:
            ax.legend(fontsize=8)  # a figure may have placed its own
    extra = [f.suptitle(fig.title)] if fig.title else []
    f.tight_layout()
    if shared:  # the extra artists replace the default ones in the tight box: list them all
        extra.append(f.legend(list(handles.values()), list(handles), fontsize=8, loc="upper left",
                              bbox_to_anchor=(1.0, 0.95)))  # fmt: skip
    return save(f, path, dpi=100, tight_layout=False, bbox_extra_artists=extra,
                bbox_inches="tight" if shared else None)  # fmt: skip


def mean_curve(
    runs: Sequence[RunView], x: str, y: str, log: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Centre and ±1 std band (low, high) of ``y`` against ``x`` over runs, on the first run's x
    points (interpolated); with ``log``, of ``ln y`` mapped back (geometric mean, ×/÷ the
    geometric std), over the positive values only."""
    series = []
    for r in runs:
        pts = [(m.get(x), m.get(y)) for m in r.metrics]
        pts = [(a, b) for a, b in pts if a is not None and b is not None and (b > 0 or not log)]
        if pts:
            series.append(np.array(pts, dtype=np.float64))
    if not series:
        return None
    grid = series[0][:, 0]
    ys = np.stack([np.interp(grid, s[:, 0], np.log(s[:, 1]) if log else s[:, 1]) for s in series])
    mean = ys.mean(axis=0)
    std = ys.std(axis=0, ddof=1) if len(series) > 1 else np.zeros_like(grid)
    if log:
        return grid, np.exp(mean), np.exp(mean - std), np.exp(mean + std)
    return grid, mean, mean - std, mean + std


def _aggregate(values: Sequence[float | None], log: bool) -> tuple[float, float, float, int] | None:
    """Centre, lower and upper error and count of a measure over replicates (geometric with ``log``)."""
    found = [v for v in values if v is not None and (v > 0 or not log)]
    if not found:
        return None
    if not log:
        agg = Aggregate.of(found)
        assert agg.mean is not None
        return agg.mean, agg.std or 0.0, agg.std or 0.0, agg.n
    logs = Aggregate.of([math.log(v) for v in found])
    assert logs.mean is not None
    centre, spread = math.exp(logs.mean), logs.std or 0.0
    return centre, centre - math.exp(logs.mean - spread), math.exp(logs.mean + spread) - centre, logs.n


def _check_scale(fig: Figure, where: str) -> None:
    if fig.scale not in SCALES:
        raise ConfigError(f"{where}.scale", f"is one of {', '.join(SCALES)}, got {fig.scale!r}")


def _check_curve(fig: Figure, where: str) -> None:
    if fig.x not in CURVE_X:
        raise ConfigError(f"{where}.x", f"a curve's x is one of {', '.join(CURVE_X)}, got {fig.x!r}")
    _check_scale(fig, where)


@FIGURES.register(
    "curve", "a metric over time, one line per group (mean ± std over replicates)", check=_check_curve
)
def curve(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    done = [r for r in runs if r.done]
    panels = _panels(fig, done)
    f, axes = _canvas(len(panels))
    keys = _lines(fig, rows)
    scale = _percent(fig.y)
    log = fig.scale == "log"
    colors = group_colors(list(group(done, keys)))
    for ax, (title, members) in zip(axes, panels, strict=True):
        for values, grp in group(members, keys).items():
            found = mean_curve(grp, fig.x, fig.y, log)
            if found is None:
                continue
            x, mean, low, high = found
            color = colors[values]
            ax.plot(x, scale * mean, color=color, label=f"{label(keys, values)} (n={len(grp)})")
            if len(grp) > 1:
                ax.fill_between(x, scale * low, scale * high, color=color, alpha=0.15)
        ax.set_xlabel(AXIS.get(fig.x, fig.x))
        ax.set_ylabel(AXIS.get(fig.y, fig.y) + (" (geometric mean)" if log else ""))
        ax.set_yscale(fig.scale)
        ax.set_title(title)
    return _finish(f, axes, fig, path)


def _check_final(fig: Figure, where: str) -> None:
    measure(fig.y)
    _check_scale(fig, where)


@FIGURES.register("final", "a measure against a setting, one line per group (mean ± std)", check=_check_final)
def final(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    m = measure(fig.y)
    done = [r for r in runs if r.done]
    panels = _panels(fig, done)
    f, axes = _canvas(len(panels))
    keys = _lines(fig, rows)
    log = fig.scale == "log"
    colors = group_colors(list(group(done, keys)))
    for ax, (title, members) in zip(axes, panels, strict=True):
        xs_all: list[float] = []
        references: list[tuple[tuple, str, tuple[float, float, float, int] | None]] = []
        for values, grp in group(members, keys).items():
            points = []
            by_x: dict[Any, list[RunView]] = {}
            for r in grp:
                by_x.setdefault(r.key(fig.x), []).append(r)
            if None in by_x:  # runs that do not vary x (e.g. dense Downpour against top-k ratios)
                agg = _aggregate([m.value(r) for r in by_x.pop(None)], log)
                references.append((values, label(keys, values), agg))
            for xv, rs in sorted(by_x.items(), key=lambda kv: _order(kv[0])):
                found = _aggregate([m.value(r) for r in rs], log)
                if found is not None and isinstance(xv, int | float):
                    points.append((float(xv), *found))
            if points:
                arr = np.array(points)
                xs_all += list(arr[:, 0])
                n = int(arr[:, 4].max())
                ax.errorbar(arr[:, 0], arr[:, 1], yerr=arr[:, 2:4].T, marker="o", capsize=3,
                            color=colors[values], label=f"{label(keys, values)} (n={n})")  # fmt: skip
        for values, name, ref in references:
            if ref is not None:
                ax.axhline(
                    ref[0], linestyle="--", linewidth=1, color=colors[values], label=f"{name} (n={ref[3]})"
                )
        ticks = sorted(set(xs_all))
        if ticks and ticks[0] > 0 and ticks[-1] / ticks[0] >= 4:
            ax.set_xscale("log", base=2 if ticks[-1] / ticks[0] < 64 else 10)
        if 1 < len(ticks) <= 8:
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(fig.x)
        ax.set_ylabel(m.header + (" (geometric mean)" if log else ""))
        ax.set_yscale(fig.scale)
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


@FIGURES.register(
    "breakdown",
    "learner time per phase, one stacked bar per value of x (computation below, communication above)",
    check=lambda f, w: None,
)
def breakdown(fig: Figure, runs: Sequence[RunView], rows: Sequence[str], path: Path) -> Path:
    panels = _panels(fig, [r for r in runs if r.done])
    f, axes = _canvas(len(panels))
    for ax, (title, members) in zip(axes, panels, strict=True):
        bars = []
        for xv, grp in sorted(group(members, (fig.x,)).items(), key=lambda kv: _order(kv[0][0])):
            shares = [s for s in (phase_shares(r) for r in grp) if s is not None]
            if shares:
                mean = {p: float(np.mean([s.get(p, 0.0) for s in shares])) for p in PHASE_COLORS}
                bars.append((label((fig.x,), xv), mean, len(shares)))
        bottom = np.zeros(len(bars))
        for phase in (*COMPUTATION, *COMMUNICATION):
            heights = np.array([b[1][phase] for b in bars])
            if len(bars):
                ax.bar([b[0] for b in bars], heights, bottom=bottom, color=PHASE_COLORS[phase], label=phase)
            bottom += heights
        for i, (_, mean, n) in enumerate(bars):
            comm = sum(mean[p] for p in COMMUNICATION)
            ax.text(i, 101, f"comm. {comm:.0f}%\n(n={n})", ha="center", va="bottom", fontsize=7)
        ax.set_ylim(0, 115)
        if bars:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_ylabel("share of learner time (%)")
        ax.set_title(title)
    return _finish(f, axes, fig, path)
