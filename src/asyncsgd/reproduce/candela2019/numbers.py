"""What the report reads from the sweeps: the lines (a method at a ratio), the settings along a
sweep's axis, each seed's score, and what staleness costs Downpour."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from asyncsgd.report.measures import measure
from asyncsgd.report.recipe import recipe_for
from asyncsgd.report.runs import RunView, SweepView, label
from asyncsgd.reproduce.candela2019.plan import AXES, BASELINE, LINE_KEYS, REFERENCES, Axis
from asyncsgd.reproduce.results import StudyResults


def line_of(run: RunView) -> str:
    return label(LINE_KEYS, [run.key(k) for k in LINE_KEYS])


def lines(view: SweepView) -> list[str]:
    """The sweep's lines in the order of its runs."""
    seen: dict[str, None] = {}
    for r in view.runs:
        seen.setdefault(line_of(r), None)
    return list(seen)


def _position(view: SweepView, axis: Axis) -> Callable[[RunView], object]:
    """A run's value on the axis: its grid point's (None for a reference that does not vary it),
    or its setting when ``--set`` fixed the axis for every run."""
    if any(axis.key in r.member.point for r in view.runs):
        return lambda r: r.key(axis.key)
    return lambda r: r.setting(axis.key)


def values(view: SweepView, axis: Axis) -> list[object]:
    """The settings along the axis, in numeric order."""
    where = _position(view, axis)
    return sorted({where(r) for r in view.runs} - {None}, key=float)


def runs_at(view: SweepView, axis: Axis, line: str, value: object) -> list[RunView]:
    """Finished runs of ``line`` at ``value`` (a reference that does not vary the axis is in every
    setting)."""
    where = _position(view, axis)
    return [r for r in view.runs if r.done and line_of(r) == line and where(r) in (value, None)]


def scores(
    view: SweepView, axis: Axis, line: str, value: object, name: str, score: Callable[[float], float | None]
) -> dict[int, float]:
    """``score`` of measure ``name`` of each seed's run of ``line`` at ``value``."""
    get = measure(name).value
    out = {}
    for r in runs_at(view, axis, line, value):
        v = get(r)
        s = None if v is None else score(v)
        if s is not None:
            out[int(r.setting("seed"))] = s
    return out


def staleness_costs(res: StudyResults, name: str) -> dict[str, float]:
    """Per setting, how many points of the mean of measure ``name`` Downpour loses against the run
    without staleness (:data:`REFERENCES`)."""
    acc = measure(name).value
    out = {}
    for part, axis in AXES.items():
        view = res.view(part)
        for value in values(view, axis):
            ref = [v for r in runs_at(view, axis, REFERENCES[part], value) if (v := acc(r)) is not None]
            base = [v for r in runs_at(view, axis, BASELINE, value) if (v := acc(r)) is not None]
            if ref and base:
                out[axis.label(value)] = statistics.fmean(ref) - statistics.fmean(base)
    return out


def method_table(view: SweepView, name: str) -> dict[str, Any]:
    """The sweep file's table of method ``name`` (empty if it has none)."""
    return next((m for m in view.definition.get("methods", []) if m.get("name") == name), {})


def ratios(view: SweepView, name: str) -> str:
    """The ratios method ``name`` runs at, in percent."""
    m = method_table(view, name)
    found = m.get("grid", {}).get("ratio", [m["ratio"]] if "ratio" in m else [])
    return ", ".join(f"{100 * v:g}%" for v in sorted(found)) or "–"


def count(found: list[float]) -> str:
    """The range of a count over runs: ``n`` or ``lo to hi``."""
    if not found:
        return "–"
    lo, hi = int(min(found)), int(max(found))
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def table_measures(view: SweepView) -> list[str]:
    """The measures of the sweep recipe's first table (the final test accuracy without one)."""
    tables = recipe_for(view.definition).tables
    return list(tables[0].measures) if tables else ["test_accuracy"]
