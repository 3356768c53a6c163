"""A study's results as its report reads them: every part's sweep from the database, and the
helpers the study reports share (selecting runs, aggregating measures, drawing figures).

Nothing here runs anything: it reads the results database (through :mod:`asyncsgd.report`) and
writes PNGs and the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asyncsgd.report.figures import FIGURES
from asyncsgd.report.markdown import asyncsgd_version
from asyncsgd.report.measures import Aggregate, measure
from asyncsgd.report.runs import RunView, SweepView, load_sweep_view
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.study import Plan, Study
from asyncsgd.sweep.db import ResultsDB, Session
from asyncsgd.sweep.spec import format_value


@dataclass
class StudyResults:
    study: Study
    plan: Plan
    db_path: str
    views: dict[str, SweepView]
    out_dir: Path
    sessions: list[Session] = field(default_factory=list)
    """The commands that executed this plan's runs, oldest first (from the database)."""
    figures: list[Path] = field(default_factory=list)

    def view(self, part: str) -> SweepView:
        return self.views[part]

    @property
    def cores(self) -> int | None:
        """Cores of the machine the latest session ran on."""
        return self.sessions[-1].cores if self.sessions else None

    def figure(self, part: str, fig: Figure, runs: Sequence[RunView] | None = None) -> Path:
        """Draw ``fig`` (a report figure kind) from a part's runs into the next numbered PNG."""
        path = self.next_figure(fig.name)
        FIGURES.get(fig.kind)(fig, runs if runs is not None else self.views[part].runs, ("method",), path)
        return path

    def next_figure(self, stem: str) -> Path:
        path = self.out_dir / f"{len(self.figures) + 1:02d}-{stem}.png"
        self.figures.append(path)
        return path


def load_results(study: Study, plan: Plan, db_path: str | Path, out_dir: Path) -> StudyResults:
    """The study's sweeps for ``plan`` from the database (ConfigError naming a missing sweep)."""
    with ResultsDB(db_path, create=False) as db:
        views = {p.key: load_sweep_view(db, study.sweep_name(plan, p)) for p in study.parts}
        sessions = db.sessions(study.label(plan))
    return StudyResults(study, plan, str(db_path), views, out_dir, sessions)


def write_report(results: StudyResults) -> tuple[Path, Path]:
    """Build the study's document from ``results`` and write ``report.md``, ``report.html`` and
    the PNGs into ``results.out_dir`` (figures of an earlier report there are removed)."""
    out = results.out_dir
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("[0-9][0-9]-*.png"):
        stale.unlink()
    doc = results.study.report(results)
    return doc.write(out)


# -- selecting and aggregating -------------------------------------------------------------------
def select(runs: Iterable[RunView], **keys: Any) -> list[RunView]:
    """Finished runs whose method or setting equals each of ``keys`` (``method=...``, ``learners=...``)."""
    out = []
    for r in runs:
        if r.done and all((r.member.method if k == "method" else r.setting(k)) == v for k, v in keys.items()):
            out.append(r)
    return out


def aggregate(runs: Sequence[RunView], name: str) -> Aggregate:
    m = measure(name)
    return Aggregate.of([m.value(r) for r in runs])


def cell(agg: Aggregate, digits: int = 1) -> str:
    """``mean ± std (n)`` as a table cell; ``–`` without data."""
    if agg.mean is None:
        return "–"
    text = f"{agg.mean:.{digits}f}"
    if agg.std is not None:
        text += f" ± {agg.std:.{digits}f}"
    return text + ("" if agg.n == agg.total else f" ({agg.n}/{agg.total})")


def value_at(run: RunView, x: str, y: str, at: float) -> float | None:
    """A run's metric ``y`` linearly interpolated at ``x = at`` (None outside its evaluations)."""
    pts = [(m.get(x), m.get(y)) for m in run.metrics]
    pts = [(a, b) for a, b in pts if a is not None and b is not None]
    if not pts or not pts[0][0] <= at <= pts[-1][0] + 1e-9:
        return None
    xs, ys = zip(*pts, strict=True)
    return float(np.interp(at, xs, ys))


def mean_at(runs: Sequence[RunView], x: str, y: str, at: float, scale: float = 1.0) -> Aggregate:
    values = [value_at(r, x, y, at) for r in runs]
    return Aggregate.of([None if v is None else scale * v for v in values])


def summary_values(runs: Sequence[RunView], *path: str) -> list[float]:
    """A number from each run's ``summary.json`` (runs without it are left out)."""
    out = []
    for r in runs:
        v: Any = r.summary
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


# -- sections every study report has ------------------------------------------------------------
def scale(plan: Plan) -> str:
    """How a report's title names its plan."""
    return (
        f"{plan.size} scale, smoke plan (checks the pipeline; the numbers mean nothing)"
        if plan.smoke
        else (f"{plan.size} scale")
    )


def _load(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def provenance_section(doc: Document, results: StudyResults) -> None:
    """How the numbers were produced: the sweeps, their run counts, the machine and the wall time
    of every session that executed runs (all read from the database)."""
    doc.heading("How this report was made")
    doc.paragraph(
        f"Generated by asyncsgd {asyncsgd_version()} from the results database "
        f"`{Path(results.db_path).name}`; "
        "every measured number, table and figure in this report is read from it, and every published "
        "number comes from `asyncsgd/reproduce/published.py`, which cites where it was read.",
    )
    sessions = results.sessions
    if sessions:
        last = sessions[-1]
        doc.paragraph(
            f"Latest session: `{last.command}` ran {last.ran} run(s) "
            f"({last.done_before} found finished in the database) in **{last.wall_seconds:.0f} s** of wall "
            f"time ({last.wall_seconds / 60:.1f} min) on {last.cores} CPU core(s) with {last.workers} worker "
            f"process(es){', and was interrupted' if last.interrupted else ''}. Load average (1, 5, 15 "
            f"min) before: {_load(last.load_before)}; after: {_load(last.load_after)}. The time is that of "
            "the sweeps; writing this report comes after it.",
        )
        if len(sessions) > 1:
            doc.table(
                ["session", "command", "runs", "found done", "wall s", "workers", "load before",
                 "load after"],
                [[str(i + 1), f"`{s.command}`", str(s.ran), str(s.done_before), f"{s.wall_seconds:.0f}",
                  str(s.workers), _load(s.load_before), _load(s.load_after)] for i, s in enumerate(sessions)],
                caption="Every session that executed runs of this plan.",
            )  # fmt: skip
    else:
        doc.paragraph("No session is recorded in the database (its runs were executed by `asyncsgd sweep`).")
    rows = []
    for part in results.study.parts:
        view = results.views[part.key]
        done = [r for r in view.runs if r.done]
        busy = sum(summary_values(done, "time", "wall_seconds"))
        rows.append([
            part.title, f"`{view.name}`", f"`{view.source}`", f"{len(done)}/{len(view.runs)}",
            f"{busy:.0f}", "one at a time" if part.exclusive else "in parallel",
        ])  # fmt: skip
    doc.table(
        ["part", "sweep", "definition", "runs done", "training wall s (sum over runs)", "scheduling"], rows
    )
    members = [r.member.run_id for v in results.views.values() for r in v.runs]
    if len(set(members)) < len(members):
        doc.paragraph(
            f"The parts have {len(members)} runs but {len(set(members))} distinct ones: a run with the same "
            "settings in two parts (the same run id) is run once and shown in both."
        )
    unfinished = [r for v in results.views.values() for r in v.runs if not r.done]
    if unfinished:
        doc.paragraph(
            f"**{len(unfinished)} run(s) did not finish**; their cells read `–` or count fewer runs "
            "(`(k/n)`). Rerunning the same command runs only them:"
        )
        doc.table(
            ["run", "status", "error"],
            [[r.member.label, r.member.status, r.member.error or ""] for r in unfinished[:30]],
        )


def settings_line(view: SweepView, keys: Sequence[str]) -> str:
    """The shared values of ``keys`` in a sweep's definition, as inline code."""
    doc = view.definition
    return ", ".join(f"`{k} = {format_value(doc[k])}`" for k in keys if k in doc)
