"""A sweep's report: Markdown with tables and PNG figures, every number read from the database."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from asyncsgd.outputs import write_text
from asyncsgd.report.figures import FIGURES
from asyncsgd.report.measures import Aggregate, measure
from asyncsgd.report.recipe import recipe_for, replicates_of
from asyncsgd.report.runs import SweepView, group, load_sweep_view
from asyncsgd.report.spec import Recipe, Table, Tuning
from asyncsgd.report.tuning import Trial, choose
from asyncsgd.sweep.db import ResultsDB
from asyncsgd.sweep.spec import SWEEP_KEYS, format_value

EVERY_RUN_MEASURES = ("test_accuracy", "train_loss", "updates", "tau_mean", "wall_seconds")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def row_keys(view: SweepView, recipe: Recipe, table: Table | None = None) -> tuple[str, ...]:
    if table is not None and table.rows is not None:
        return table.rows
    return tuple(view.varied(recipe.replicates)) or ("method",)


def numeric_keys(view: SweepView, keys: Sequence[str]) -> list[str]:
    out = []
    for k in keys:
        values = {r.key(k) for r in view.runs} - {None}
        if len(values) > 1 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out.append(k)
    return out


def render_table(table: Table, view: SweepView, keys: Sequence[str]) -> str:
    """One row per group of ``keys``: finished/planned runs, then each measure as mean ± std."""
    measures = [measure(m) for m in table.measures]
    rows = []
    for values, runs in group(view.runs, keys).items():
        done = [r for r in runs if r.done]
        cells = ["–" if v is None else format_value(v) for v in values]
        cells.append(f"{len(done)}/{len(runs)}")
        cells += [Aggregate.of([m.value(r) for r in done]).format(m.digits) for m in measures]
        rows.append(cells)
    return markdown_table([*keys, "runs", *(m.header for m in measures)], rows)


def render_tuning(tuning: Tuning, view: SweepView, keys: Sequence[str]) -> str:
    """One row per group of ``keys``: the grid of ``tuning.key``, the value with the best mean final
    validation accuracy, the test accuracy there and at the shared value, and a note on the pick."""
    keys = [k for k in (tuning.rows or keys) if k != tuning.key]
    val, test = measure("val_accuracy"), measure("test_accuracy")
    trials = [
        Trial(tuple(r.key(k) for k in keys), float(v), val.value(r), test.value(r))
        for r in view.runs
        if r.done and isinstance(v := r.setting(tuning.key), int | float) and not isinstance(v, bool)
    ]
    rows = []
    for c in choose(trials, tuning.shared):
        notes = [
            "no validation split: set validation > 0" if c.value is None else "",
            "at the grid's edge" if c.value is not None and c.at_edge else "",
            f"grid of {len(c.grid)} values" if c.coarse else "",
        ]
        rows.append([
            *("–" if v is None else format_value(v) for v in c.group),  # type: ignore[union-attr]
            ", ".join(f"{v:g}" for v in c.grid), "–" if c.value is None else f"{c.value:g}",
            _fmt(c.score, 2), Aggregate.of(list(c.tested)).format(2),
            *([Aggregate.of(list(c.shared)).format(2)] if tuning.shared is not None else []),
            "; ".join(n for n in notes if n) or "–",
        ])  # fmt: skip
    k = tuning.key
    header = [*keys, f"{k} grid", f"chosen {k}", "val acc %", "test acc % (chosen)"]
    header += [f"test acc % ({k} = {tuning.shared:g})"] if tuning.shared is not None else []
    return markdown_table([*header, "note"], rows)


def _settings_section(view: SweepView) -> list[str]:
    doc = view.definition
    base = {k: v for k, v in doc.items() if k not in SWEEP_KEYS}
    out = ["## Settings", ""]
    if base:
        out += [
            "Shared by every run: " + ", ".join(f"`{k} = {format_value(v)}`" for k, v in base.items()) + ".",
            "",
        ]
    grid = doc.get("grid", {})
    if grid:
        out += [
            "Grid (every combination): "
            + ", ".join(f"`{k}` ∈ {format_value(v)}" for k, v in grid.items())
            + ".",
            "",
        ]
    methods = doc.get("methods", [])
    if methods:
        rows = []
        for m in methods:
            own = {k: v for k, v in m.items() if k not in ("name", "grid")}
            rows.append([
                m.get("name", ""),
                ", ".join(f"{k} = {format_value(v)}" for k, v in own.items()) or "(shared settings)",
                ", ".join(f"{k} ∈ {format_value(v)}" for k, v in m.get("grid", {}).items()) or "",
            ])  # fmt: skip
        out += [markdown_table(["method", "settings", "own grid"], rows), ""]
    return out


def sweep_report(view: SweepView, out_dir: Path) -> Path:
    """Write ``out_dir/report.md`` and its figures for one sweep; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("[0-9][0-9]-*.png"):  # figures of an earlier recipe
        stale.unlink()
    varied = view.varied(replicates_of(view.definition))
    validated = any(r.summary.get("final_val_accuracy") is not None for r in view.runs)
    recipe = recipe_for(view.definition, varied, numeric_keys(view, varied), validated)
    keys = row_keys(view, recipe)
    n = len(view.runs)
    counts = {s: view.count(s) for s in ("done", "failed", "interrupted", "running")}
    not_run = n - sum(counts.values())
    diverged = sum(r.diverged for r in view.runs)
    lines = [f"# Sweep `{view.name}`", ""]
    if view.description:
        lines += [view.description, ""]
    version = asyncsgd_version()
    lines += [
        f"Generated by asyncsgd {version} from the results database `{view.db_path}`"
        + (f" (sweep file `{view.source}`)" if view.source else "")
        + "; every number and figure below is read from it.",
        "",
        f"**Runs:** {n} in the sweep: {counts['done']} done"
        + (f" ({diverged} of them diverged: stopped early, every push NaN/Inf)" if diverged else "")
        + f", {counts['failed']} failed, "
        f"{counts['interrupted']} interrupted, {counts['running']} running, {not_run} not run. "
        f"Values are mean ± sample standard deviation over {', '.join(recipe.replicates) or 'nothing'} "
        "(finished runs only; `(k/n)`: the measure exists for k of n runs).",
        "",
    ]
    lines += _settings_section(view)
    for table in recipe.tables:
        lines += [f"## {table.title}", "", render_table(table, view, row_keys(view, recipe, table)), ""]
    for tuning in recipe.tunings:
        title = tuning.title or f"{tuning.key} chosen on the validation split"
        lines += [
            f"## {title}", "",
            f"For each row, the {tuning.key} whose runs reach the best mean final validation accuracy "
            "(the validation split is held out of the training set; the test set plays no part in "
            "the choice), and the test accuracy (%) at it.", "",
            render_tuning(tuning, view, row_keys(view, recipe)), "",
        ]  # fmt: skip
    if recipe.figures:
        lines += ["## Figures", ""]
    for i, fig in enumerate(recipe.figures):
        file = out_dir / f"{i + 1:02d}-{fig.name}.png"
        FIGURES.get(fig.kind)(fig, view.runs, keys, file)
        title = fig.title or fig.name
        lines += [f"### {title}", "", f"![{title}]({file.name})", ""]
    unfinished = [r for r in view.runs if not r.done]
    if unfinished:
        rows = [[r.member.label, r.member.run_id, r.member.status, r.member.attempts, r.member.error or ""]
                for r in unfinished]  # fmt: skip
        lines += [
            "## Runs not finished",
            "",
            markdown_table(["run", "id", "status", "attempts", "error"], rows),
            "",
        ]
    every = [measure(m) for m in EVERY_RUN_MEASURES]
    rows = [
        [r.member.label, r.member.run_id, r.member.status, *(_fmt(m.value(r), m.digits) for m in every)]
        for r in view.runs
    ]
    lines += [
        "## Every run",
        "",
        markdown_table(["run", "id", "status", *(m.header for m in every)], rows),
        "",
    ]
    path = out_dir / "report.md"
    write_text(path, "\n".join(lines))
    return path


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def asyncsgd_version() -> str:
    """The installed asyncsgd's version, as reports quote it."""
    try:
        return metadata.version("asyncsgd")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def build_report(db_path: str | Path, out_dir: str | Path, sweeps: Sequence[str] | None = None) -> list[Path]:
    """A report per sweep of the database (or of ``sweeps``), each in ``out_dir/<sweep>/``."""
    with ResultsDB(db_path, create=False) as db:
        names = list(sweeps) if sweeps else db.sweep_names()
        views = [load_sweep_view(db, name) for name in names]
    return [sweep_report(v, Path(out_dir) / v.name) for v in views]
