"""What a report shows: tables of measures and figures, chosen by a recipe.

A sweep file may carry its recipe in a ``[report]`` table; without one, :func:`default_recipe`
picks tables and figures from what the sweep varies::

    [report]
    replicates = ["seed"]          # keys averaged over (mean ± std), never a row or a line

    [[report.tables]]
    title = "Final accuracy"
    measures = ["test_accuracy", "updates_to:0.8", "tau_mean"]
    rows = ["method", "learners"]  # default: method and every varied key

    [[report.figures]]
    kind = "curve"                 # curve, final, staleness or breakdown (see FIGURES)
    y = "test_accuracy"            # curve: a metric over time; final: a measure
    x = "epoch"                    # curve: update, samples, epoch, time; final and breakdown: a setting
    facet = "learners"             # one panel per value
    lines = ["method"]             # default: the table's row keys without x and facet
    scale = "log"                  # y axis of curve and final: linear (default) or log

    [[report.tunings]]             # a rate chosen on the validation split (runs with validation > 0)
    key = "lr"                     # the grid key to choose (default lr)
    shared = 0.1                   # also show the test accuracy at this value
    rows = ["method", "learners"]  # default: the row keys without key
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from asyncsgd.errors import ConfigError
from asyncsgd.report.figures import FIGURES
from asyncsgd.report.measures import measure
from asyncsgd.report.spec import Figure, Recipe, Table, Tuning


def default_recipe(varied: list[str], numeric: list[str] | None = None, validated: bool = False) -> Recipe:
    """One table of the default measures; accuracy and loss curves, staleness histograms, the
    final accuracy against each numeric varied setting, and, where runs measured a validation split
    (``validated``) and ``lr`` varies, the rate chosen on it."""
    figures = [
        Figure("curve", "test_accuracy", "update", title="Test accuracy against server updates"),
        Figure("curve", "train_loss", "update", title="Training loss against server updates"),
        Figure("staleness", title="Staleness of applied pushes"),
    ]
    for key in numeric or []:
        if key in varied:
            figures.append(Figure("final", "test_accuracy", key, title=f"Final test accuracy against {key}"))
    tunings = (Tuning("lr"),) if validated and "lr" in (numeric or []) and "lr" in varied else ()
    return Recipe((Table(),), tuple(figures), tunings=tunings)


def _table_of(raw: Any, where: str, cls: type, lists: tuple[str, ...]) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be a table")
    known = {f.name for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
        if key in lists:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{key}", "must be a list of strings")
            value = tuple(value)
        elif not isinstance(value, str):
            raise ConfigError(f"{where}.{key}", f"must be a string, got {value!r}")
        values[key] = value
    try:
        return cls(**values)
    except TypeError:
        raise ConfigError(
            where, f"needs {', '.join(f.name for f in fields(cls) if f.name not in values)}"
        ) from None


def parse_recipe(raw: Any) -> Recipe:
    """The recipe of a ``[report]`` table, checked: unknown measures, kinds or keys fail here."""
    if not isinstance(raw, dict):
        raise ConfigError("report", "must be a table")
    unknown = set(raw) - {"tables", "figures", "replicates", "tunings"}
    if unknown:
        raise ConfigError(
            f"report.{sorted(unknown)[0]}", "unknown key (known: figures, replicates, tables, tunings)"
        )
    tables = tuple(
        _table_of(t, f"report.tables[{i}]", Table, ("measures", "rows"))
        for i, t in enumerate(raw.get("tables", []))
    )
    figures = tuple(
        _table_of(f, f"report.figures[{i}]", Figure, ("lines",)) for i, f in enumerate(raw.get("figures", []))
    )
    for t in tables:
        for m in t.measures:
            measure(m)
    for i, f in enumerate(figures):
        if f.kind not in FIGURES:
            raise ConfigError(
                f"report.figures[{i}].kind",
                f"unknown figure kind {f.kind!r} (known: {', '.join(FIGURES.names())})",
            )
        FIGURES.entry(f.kind).meta["check"](f, f"report.figures[{i}]")
    replicates = raw.get("replicates", ["seed"])
    if not isinstance(replicates, list) or not all(isinstance(r, str) for r in replicates):
        raise ConfigError("report.replicates", "must be a list of setting names")
    tunings = tuple(_tuning(t, f"report.tunings[{i}]") for i, t in enumerate(raw.get("tunings", [])))
    return Recipe(tables, figures, tuple(replicates), tunings)


def _tuning(raw: Any, where: str) -> Tuning:
    """A ``[[report.tunings]]`` entry; ``shared`` is a number, the others as a table's."""
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be a table")
    shared = raw.get("shared")
    if shared is not None and (
        isinstance(shared, bool) or not isinstance(shared, int | float) or shared <= 0
    ):
        raise ConfigError(f"{where}.shared", f"must be a positive number, got {shared!r}")
    plain = _table_of({k: v for k, v in raw.items() if k != "shared"}, where, Tuning, ("rows",))
    return Tuning(plain.key, None if shared is None else float(shared), plain.rows, plain.title)


def replicates_of(document: dict[str, Any]) -> tuple[str, ...]:
    """The keys a sweep's report averages over (``[report] replicates``, default ``seed``)."""
    raw = document.get("report", {})
    return tuple(raw.get("replicates", ["seed"])) if isinstance(raw, dict) else ("seed",)


def recipe_for(
    document: dict[str, Any],
    varied: list[str] | None = None,
    numeric: list[str] | None = None,
    validated: bool = False,
) -> Recipe:
    """The sweep's own ``[report]`` recipe, else the default for what it varies."""
    if "report" in document:
        return parse_recipe(document["report"])
    return default_recipe(varied or [], numeric, validated)
