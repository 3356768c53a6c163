"""A reproduction of a published study: sweep definitions plus a report recipe over the database.

A study has parts (one sweep each, e.g. "learning rates", "time breakdown") and three sizes:
``quick`` (small data and models, the same structure, minutes on two cores), ``standard`` (the
same tasks with more seeds and updates, up to 90 minutes on two cores: the committed reports
under docs/results/ come from it) and ``full`` (larger data and models, for a bigger machine).
Each part and size is a packaged sweep file, ``asyncsgd/reproduce/sweeps/<study>/<size>/<part>.toml``,
that a user can read, copy and run with ``asyncsgd sweep``; its ``name`` is
``<study>-<size>-<part>``, so every size of a study can share one results database. The study's
report reads that database and nothing else.

A **smoke** plan is a miniature of either size, derived from its files by :func:`miniature`:
the first two values of every grid axis and a few updates per run. It runs every part, table and
figure in about a minute (its numbers mean nothing), so the whole pipeline can be checked before
hours of ``--full`` runs; its sweeps are named ``<study>-<size>-smoke-<part>``.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.sweep.spec import Sweep, build_sweep

if TYPE_CHECKING:
    from asyncsgd.reproduce.document import Document
    from asyncsgd.reproduce.results import StudyResults

SIZES = ("quick", "standard", "full")
SWEEPS_PACKAGE = "asyncsgd.reproduce"

SMOKE_VALUES = 2
"""Values kept of every grid axis in a smoke plan (two seeds: the spread still exists)."""
SMOKE_UPDATES = 40
SMOKE_EPOCHS = 0.25
SMOKE_EVAL_EVERY = 8
"""Updates between evaluations in a smoke plan (about five per run)."""
SMOKE_PROBE = {
    "theory_points": 2,
    "theory_steps": 5,
    "theory_batches": 4,
    "theory_hvp": 3,
    "theory_samples": 128,
}
"""A small probe for ``lr = "auto"`` runs (docs/theory.md §4)."""


@dataclass(frozen=True)
class Plan:
    """Which sweeps of a study to run: a size, and whether in miniature."""

    size: str
    smoke: bool = False

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError("size", f"a study runs at {', '.join(SIZES)}, got {self.size!r}")

    @property
    def label(self) -> str:
        return f"{self.size}-smoke" if self.smoke else self.size


@dataclass(frozen=True)
class Part:
    """One sweep of a study."""

    key: str
    title: str
    exclusive: bool = False
    """The part measures wall-clock time: its runs go one at a time, on one worker, so that runs
    do not share the cores with each other."""


def _shrink_budget(table: dict[str, Any]) -> None:
    if "updates" in table:
        table["updates"] = min(int(table["updates"]), SMOKE_UPDATES)
    if "epochs" in table:
        table["epochs"] = min(float(table["epochs"]), SMOKE_EPOCHS)


def _cut(axes: dict[str, Any]) -> dict[str, Any]:
    """The first :data:`SMOKE_VALUES` values of every axis, a linked axis's budgets shrunk too."""
    out = {k: list(v)[:SMOKE_VALUES] for k, v in axes.items()}
    for table in (t for v in out.values() for t in v if isinstance(t, dict)):
        _shrink_budget(table)
    return out


def miniature(document: dict[str, Any]) -> dict[str, Any]:
    """The smoke version of a sweep definition: every grid axis cut to its first
    :data:`SMOKE_VALUES` values, budgets to at most :data:`SMOKE_UPDATES` updates or
    :data:`SMOKE_EPOCHS` epochs, fewer evaluations and a small probe where a rate is predicted;
    nothing else changes (methods, settings and the report recipe stay as they are)."""
    doc = copy.deepcopy(document)
    doc["grid"] = _cut(doc.get("grid", {}))
    doc["eval_every"] = SMOKE_EVAL_EVERY
    _shrink_budget(doc)
    for method in doc.get("methods", []):
        if "grid" in method:
            method["grid"] = _cut(method["grid"])
        _shrink_budget(method)
    if any(t.get("lr") == "auto" for t in [doc, *doc.get("methods", [])]):
        doc.update(SMOKE_PROBE)
    doc["description"] = (
        "Smoke plan: two values per grid axis and a few updates per run; it checks the pipeline and "
        "its numbers mean nothing. " + str(doc.get("description", ""))
    ).strip()
    return doc


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    citation: str
    parts: tuple[Part, ...]
    report: Callable[[StudyResults], Document] = field(repr=False)

    def part(self, key: str) -> Part:
        for p in self.parts:
            if p.key == key:
                return p
        raise KeyError(key)

    def label(self, plan: Plan) -> str:
        """What the database's sessions of this study and plan are recorded under."""
        return f"{self.name}-{plan.label}"

    def sweep_name(self, plan: Plan, part: Part) -> str:
        return f"{self.name}-{plan.label}-{part.key}"

    def sweep_file(self, size: str, part: Part) -> Traversable:
        return resources.files(SWEEPS_PACKAGE).joinpath("sweeps", self.name, size, f"{part.key}.toml")

    def source(self, plan: Plan, part: Part) -> str:
        where = f"asyncsgd/reproduce/sweeps/{self.name}/{plan.size}/{part.key}.toml"
        return f"{where} (in miniature)" if plan.smoke else where

    def document(self, plan: Plan, part: Part) -> dict[str, Any]:
        """The part's sweep definition for ``plan``, named :meth:`sweep_name`."""
        doc = tomllib.loads(self.sweep_file(plan.size, part).read_text())
        if plan.smoke:
            doc = miniature(doc)
        doc["name"] = self.sweep_name(plan, part)
        return doc

    def sweeps(self, plan: Plan, overrides: Sequence[str] = ()) -> list[tuple[Part, Sweep]]:
        """Every part's sweep for ``plan`` with ``--set`` overrides; ``METHOD.key=value`` goes to
        the parts that have that method (a method no part has is an error)."""
        docs = [(part, self.document(plan, part)) for part in self.parts]
        methods = {p.key: {str(m.get("name")) for m in d.get("methods", [])} for p, d in docs}
        for item in overrides:
            key = item.partition("=")[0].strip()
            if "." in key:
                method = key.partition(".")[0]
                if not any(method in names for names in methods.values()):
                    have = ", ".join(sorted(set().union(*methods.values())))
                    raise ConfigError(f"--set {key}", f"no method {method!r} in {self.name} (have: {have})")
        out = []
        for part, doc in docs:
            mine = [o for o in overrides if _applies(o, methods[part.key])]
            out.append((part, build_sweep(doc, mine, source=self.source(plan, part))))
        return out


def _applies(item: str, methods: set[str]) -> bool:
    key = item.partition("=")[0].strip()
    return "." not in key or key.partition(".")[0] in methods


STUDIES: Registry[Study] = Registry("study")


def register(study: Study) -> Study:
    STUDIES.register(study.name, study.title)(study)
    return study


def default_paths(study: Study, plan: Plan) -> tuple[Path, Path]:
    """Where ``asyncsgd reproduce`` keeps the database and writes the report by default."""
    root = Path("runs") / "reproduce"
    return root / f"{study.name}-{plan.label}.db", root / f"{study.name}-{plan.label}"
