"""Sweep definitions: base settings × a grid × methods, expanded into runs with stable ids.

A sweep file is TOML. Top-level keys are settings shared by every run; ``[grid]`` lists the values
to cross (the Cartesian product); each ``[[methods]]`` table names a method, the settings it fixes
and optionally its own ``grid``; ``[report]`` optionally says which tables and figures its report
shows (see :mod:`asyncsgd.report.recipe`)::

    name = "tiny"
    dataset = "synthetic"
    model = "logreg"
    updates = 200

    [grid]
    learners = [2, 8]
    seed = [0, 1, 2]

    [[methods]]
    name = "downpour"

    [[methods]]
    name = "topk-ef"
    codec = "topk"
    error_feedback = true
    grid = { ratio = [0.01, 0.1] }

Precedence, lowest first: base settings, the ``[grid]`` point, the method's settings, the method's
grid point, ``--set key=value``, ``--set METHOD.key=value``. A key a method (or ``--set``) fixes
is no longer crossed for that method; a key a method's own grid crosses replaces ``[grid]``'s for
that method. No key is crossed by two axes of one grid.

Settings that must change together (a budget and the rate scaled to it) form a **linked axis**:
a grid key whose values are tables, each a set of settings taken together. Every table of the axis
sets the same keys, and the axis is crossed with the others as one; its name only labels it (the
runs' points, ids and reports carry the settings themselves, as separate columns). A key fixed
by a method or ``--set`` leaves the axis, which goes on crossing its other keys::

    [grid]
    seed = [0, 1, 2]
    budget = [{ updates = 250, lr = 0.2 }, { updates = 1000, lr = 0.1 }]

A method may replay an earlier method's run at the same grid point (``trace = "method:NAME"``, see
:mod:`asyncsgd.sweep.replay`).

Every run is identified by :func:`run_id`, a hash of its fully resolved settings: the same run in
two sweeps, or in a sweep run twice, is the same row of the results database.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncsgd.assembly.checks import check_names, effective_config
from asyncsgd.config.files import NAME, confirm_clusters, load_toml, method_entries, parse_overrides
from asyncsgd.config.schema import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.replay import check_replay, resolve_replay, source_of

SWEEP_KEYS = ("name", "description", "grid", "methods", "report")
RUN_ID_VERSION = "asyncsgd-run-v1"
MAX_RUNS = 100_000
"""Most runs one sweep file may expand to (the grid is crossed before anything runs)."""


def run_id(cfg: RunConfig) -> str:
    """First 16 hex digits of sha256 over the canonical resolved settings (a new setting in a later
    asyncsgd gives every run a new id: runs recorded before are kept, not reused)."""
    text = f"{RUN_ID_VERSION}\n{cfg.canonical()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its method, its grid point, its resolved settings and their id."""

    method: str
    point: dict[str, Any]
    config: RunConfig
    run_id: str

    @property
    def label(self) -> str:
        return " ".join([self.method, *(f"{k}={format_value(v)}" for k, v in self.point.items())])


@dataclass(frozen=True)
class Sweep:
    name: str
    runs: tuple[PlannedRun, ...]
    document: dict[str, Any] = field(repr=False)
    """The definition with ``--set`` overrides folded in (settings, grid, methods, report): it
    expands to the same runs, and is what the database keeps and the report shows."""
    description: str = ""
    source: str = ""

    def unique_runs(self) -> list[PlannedRun]:
        """Runs in plan order, each id once (two methods may resolve to the same settings)."""
        seen: set[str] = set()
        out = []
        for r in self.runs:
            if r.run_id not in seen:
                seen.add(r.run_id)
                out.append(r)
        return out


def _linked(values: list[Any]) -> bool:
    """Whether an axis's values are tables of settings taken together."""
    return isinstance(values[0], dict)


def _linked_tables(values: list[Any], where: str) -> list[dict[str, Any]]:
    """The tables of a linked axis, each with its keys in the first table's order."""
    first = values[0]
    for i, table in enumerate(values):
        if not isinstance(table, dict) or not table:
            raise ConfigError(
                f"{where}[{i}]", f"must be a non-empty table of settings like the first, got {table!r}"
            )
        if set(table) != set(first):
            raise ConfigError(
                f"{where}[{i}]", f"sets {', '.join(table)} where the first table sets {', '.join(first)}"
            )
    return [{k: table[k] for k in first} for table in values]


def _keys(name: str, values: list[Any]) -> list[str]:
    """The settings an axis crosses: its name, or the keys of its tables."""
    return [str(k) for k in values[0]] if _linked(values) else [name]


def _axes(table: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(table, dict):
        raise ConfigError(where, "must be a table of setting = [values, ...]")
    axes: dict[str, list[Any]] = {}
    crossed: dict[str, str] = {}
    for key, values in table.items():
        name = f"{where}.{key}"
        if not isinstance(values, list) or not values:
            raise ConfigError(name, f"must be a non-empty list of values, got {values!r}")
        if any(isinstance(v, dict) for v in values):
            values = _linked_tables(values, name)
        for k in _keys(str(key), values):
            if k in crossed:
                raise ConfigError(
                    f"{name}.{k}" if _linked(values) else name, f"is also crossed by {crossed[k]}"
                )
            crossed[k] = name
        axes[str(key)] = values
    return axes


def _without(axes: dict[str, list[Any]], fixed: set[str]) -> dict[str, list[Any]]:
    """``axes`` with the settings in ``fixed`` no longer crossed: a plain axis goes, a linked one
    keeps its other keys (tables made equal by the cut are kept once) and goes when none is left."""
    out = {}
    for name, values in axes.items():
        if not _linked(values):
            if name not in fixed:
                out[name] = values
            continue
        kept: list[dict[str, Any]] = []
        for table in values:
            rest = {k: v for k, v in table.items() if k not in fixed}
            if rest and rest not in kept:
                kept.append(rest)
        if kept:
            out[name] = kept
    return out


def _blame(axes: dict[str, list[Any]], where: str) -> dict[str, str]:
    """Where in the file each crossed setting came from."""
    return {k: f"{where}.{name}.{k}" if _linked(v) else f"{where}.{k}" for name, v in axes.items()
            for k in _keys(name, v)}  # fmt: skip


def _point(axes: dict[str, list[Any]], values: tuple[Any, ...]) -> dict[str, Any]:
    """A grid point as settings (a linked axis's table spread into its keys)."""
    point: dict[str, Any] = {}
    for name, value in zip(axes, values, strict=True):
        point.update(value if isinstance(value, dict) else {name: value})
    return point


def _resolve(values: dict[str, Any], blame: dict[str, str]) -> RunConfig:
    """Validated config; a ConfigError names where in the sweep file the bad key came from. A run
    that replays another (``trace = "run:ID"``) is checked without the trace, which may not exist yet."""
    try:
        cfg = RunConfig.from_dict(values)
        if source_of(cfg) is None:
            check_names(effective_config(cfg))
        else:
            check_replay(cfg, "trace")
            check_names(effective_config(cfg.replace(schedule="compute", trace="")))
    except ConfigError as err:
        raise ConfigError(blame.get(err.key, err.key), err.message) from None
    return cfg


def fold_overrides(
    document: dict[str, Any], common: dict[str, Any], per_method: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``document`` as if ``--set`` overrides had been written in it: a key set for every run
    replaces the base value, every method's own value and every grid; a key set for one method
    becomes that method's fixed setting."""
    doc = {k: v for k, v in document.items() if k not in ("grid", "methods")}
    doc.update(common)
    if "grid" in document:
        doc["grid"] = _without(document["grid"], set(common))
    methods = []
    for m in document.get("methods", [{"name": "run"}]):
        entry = dict(m)
        mine = per_method.get(str(entry.get("name")), {})
        entry.update({k: v for k, v in common.items() if k in entry})
        entry.update(mine)
        if "grid" in entry:
            entry["grid"] = _without(entry["grid"], set(common) | set(mine))
        methods.append(entry)
    doc["methods"] = methods
    return doc


def build_sweep(document: dict[str, Any], overrides: list[str] | None = None, source: str = "") -> Sweep:
    """Expand a parsed sweep document (and ``--set`` overrides) into validated runs."""
    doc = dict(document)
    name = str(doc.pop("name", "sweep"))
    if not NAME.match(name):
        raise ConfigError("name", f"must be letters/digits/._- (it names files), got {name!r}")
    description = str(doc.pop("description", ""))
    grid = _axes(doc.pop("grid", {}), "grid")
    doc.pop("report", None)
    common, per_method = parse_overrides(overrides or [])
    runs: list[PlannedRun] = []
    for method, entry in method_entries(doc.pop("methods", [{"name": "run"}]), per_method):
        own_grid = _axes(entry.pop("grid", {}), f"{method}.grid")
        for key, where in _blame(own_grid, f"{method}.grid").items():
            if key in entry:
                raise ConfigError(where, "is also fixed by the method")
        mine = per_method.get(method, {})
        own = _without(own_grid, set(common) | set(mine))
        crossed = {k for name, v in own.items() for k in _keys(name, v)}
        replaced = {k for k, v in own.items() if not _linked(v) and k in grid and not _linked(grid[k])}
        axes = _without(grid, set(entry) | set(common) | set(mine) | (crossed - replaced))
        axes.update(own)  # a plain axis of both grids keeps its place, with the method's values
        blame = {k: f"{method}.{k}" for k in entry} | _blame(grid, "grid")
        blame |= _blame(own_grid, f"{method}.grid") | {k: f"--set {k}" for k in common}
        blame |= {k: f"--set {method}.{k}" for k in mine}
        planned = len(runs) + math.prod(len(v) for v in axes.values())
        if planned > MAX_RUNS:
            where = "grid" if grid else f"{method}.grid"
            raise ConfigError(where, f"crosses to {planned:,} runs; a sweep holds at most {MAX_RUNS:,}")
        for values in itertools.product(*axes.values()):
            point = _point(axes, values)
            merged = {**doc, **entry, **point, **common, **mine}
            merged = resolve_replay(merged, method, point, runs, blame.get("trace", "trace"))
            cfg = _resolve(merged, blame)
            runs.append(PlannedRun(method, point, cfg, run_id(cfg)))
    return Sweep(name, tuple(runs), fold_overrides(document, common, per_method), description, source)


def load_sweep(path: str | Path, overrides: list[str] | None = None) -> Sweep:
    p = Path(path)
    sweep = build_sweep(load_toml(p), overrides, source=str(p))
    confirm_clusters((r.config for r in sweep.runs), overrides, str(p))
    return sweep
