"""Results as a table: a sweep's database or a run directory as one row per run and method.

    >>> import asyncsgd.results
    >>> df = asyncsgd.results.load("runs/topk-vs-p.db")        # doctest: +SKIP
    >>> df.groupby(["method", "learners"]).final_test_accuracy_pct.mean()  # doctest: +SKIP

:func:`load` returns a pandas DataFrame (``pip install 'asyncsgd[pandas]'``); :func:`records`
returns the same rows as plain dicts, without pandas. The columns:

* who the row is: ``method``, and for a database ``sweep``, ``label``, ``run_id``, ``status``
  (``done``, ``failed``, ``interrupted``, ``planned``, ...) and ``error``;
* one column per setting whose value differs between rows (the settings every row shares are in
  :func:`constants`, and in ``df.attrs["constants"]``). A setting that a row's method does not use
  is None (NaN in a numeric column), never its default: a dense method (``codec = "identity"``)
  has no ``ratio``, a method without a remedy no ``dc_lambda``, a ``local`` run no ``latency``.
  Which settings a method uses comes from the declarations: the run's own always; the simulator's
  on ``engine = "sim"`` and the wall-clock engines' on the others; a codec's, remedy's, rule's,
  algorithm's or delay model's where the method names that part;
* the measures, with their unit in the name: accuracies in percent everywhere (``_pct``, where
  ``summary.json`` holds fractions), losses as they are, ``bytes_up``/``bytes_down`` in bytes,
  ``wall_s`` and ``engine_s`` in seconds (``engine_clock`` says whether ``engine_s`` is
  simulated or wall time), counts done (``updates_done``, ``pushes``, ``samples_done``,
  ``epochs_done``: the budget settings ``updates`` and ``epochs`` keep their names), staleness τ
  in updates.
  A run that recorded nothing (planned, failed before its first evaluation) has None there.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from asyncsgd.config.engines import SIM, WALL_CLOCK
from asyncsgd.config.settings import PARTS, RUN, declared
from asyncsgd.errors import ConfigError

PANDAS_HINT = "asyncsgd.results.load needs pandas: pip install 'asyncsgd[pandas]'"


def _pct(value: Any) -> float | None:
    return 100.0 * value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _at(*path: str) -> Callable[[dict[str, Any]], Any]:
    def read(summary: dict[str, Any]) -> Any:
        value: Any = summary
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return read


def _pct_at(*path: str) -> Callable[[dict[str, Any]], Any]:
    return lambda summary: _pct(_at(*path)(summary))


MEASURES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "final_test_accuracy_pct": _pct_at("final_test_accuracy"),
    "final_val_accuracy_pct": _pct_at("final_val_accuracy"),
    "final_train_accuracy_pct": _pct_at("final", "train_accuracy"),
    "final_train_loss": _at("final_train_loss"),
    "final_test_loss": _at("final", "test_loss"),
    "final_val_loss": _at("final", "val_loss"),
    "updates_done": _at("updates"),
    "pushes": _at("pushes"),
    "samples_done": _at("samples"),
    "epochs_done": _at("epochs"),
    "stop_reason": _at("stop_reason"),
    "tau_mean": _at("staleness", "mean"),
    "tau_p50": _at("staleness", "p50"),
    "tau_p95": _at("staleness", "p95"),
    "tau_max": _at("staleness", "max"),
    "bytes_up": _at("bytes", "up"),
    "bytes_down": _at("bytes", "down"),
    "bytes_up_fraction_of_dense": _at("bytes", "compression"),
    "rejected": _at("rejected", "total"),
    "dropped": _at("dropped"),
    "wall_s": _at("time", "wall_seconds"),
    "engine_s": _at("time", "engine_seconds"),
    "engine_clock": _at("time", "clock"),
    "params_sha256": _at("params_sha256"),
}
"""Each measure column and how it is read from a method's ``summary.json`` (accuracies, stored as
fractions, in percent)."""
WORDS = frozenset({"stop_reason", "engine_clock", "params_sha256"})
"""The measures that are text; the others are numbers (NaN where a run has none)."""


def used(config: dict[str, Any]) -> set[str]:
    """The settings a run with resolved settings ``config`` uses (see the module's docstring)."""
    names = {s.name for s in RUN}
    sim = config.get("engine") == "sim"
    names |= {s.name for s in (SIM if sim else WALL_CLOCK)}
    for kind, registry in PARTS:
        if kind == "delay" and not sim:
            continue
        chosen = str(config.get(kind, "")).split("+")  # remedies are joined by +
        for part in chosen:
            if part in registry:
                takes = getattr(registry.get(part), "settings", ())
                names |= {item if isinstance(item, str) else item.name for item in takes}
    return names


def _plain(value: Any) -> Any:
    """A cell a DataFrame can group by: lists (``hidden``) as tuples."""
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value


def _row(config: dict[str, Any], summary: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings with the unused ones None, measures) of one run."""
    defaults = {k: s.default for k, s in declared().items()}
    full = {**defaults, **config}
    takes = used(full)
    settings = {k: _plain(v) if k in takes else None for k, v in full.items()}
    measures = {name: read(summary) if summary else None for name, read in MEASURES.items()}
    return settings, measures


def _from_db(path: Path) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    from asyncsgd.sweep.db import ResultsDB

    rows = []
    with ResultsDB(path, create=False) as db:
        stored: dict[str, dict[str, Any]] = {}
        for run_id, key, value in db.conn.execute("SELECT run_id, key, value FROM settings"):
            stored.setdefault(run_id, {})[key] = json.loads(value) if value is not None else None
        for sweep in db.sweep_names():
            for m in db.members(sweep):
                who = {"sweep": sweep, "method": m.method, "label": m.label, "run_id": m.run_id,
                       "status": m.status, "error": m.error or None}  # fmt: skip
                rows.append((who, *_row(stored.get(m.run_id, m.config), m.summary)))
    return rows


def _from_run_dir(path: Path) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    config, summary = path / "config.toml", path / "summary.json"
    if not config.is_file():
        raise ConfigError(str(path), "not a run directory of `asyncsgd run` (no config.toml)")
    try:
        methods = {m["name"]: m for m in tomllib.loads(config.read_text(encoding="utf-8"))["methods"]}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as err:
        raise ConfigError(str(config), f"not the resolved experiment `asyncsgd run` writes ({err})") from None
    done: dict[str, Any] = {}
    if summary.is_file():
        try:
            done = json.loads(summary.read_text(encoding="utf-8")).get("methods", {})
        except (OSError, UnicodeDecodeError, ValueError, AttributeError) as err:
            raise ConfigError(str(summary), f"not an asyncsgd summary ({err})") from None
    rows = []
    for name, settings in methods.items():
        values = {k: v for k, v in settings.items() if k != "name"}
        rows.append(({"method": name}, *_row(values, done.get(name))))
    return rows


def _source(path: str | Path) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    p = Path(path)
    if p.is_dir():
        return _from_run_dir(p)
    if not p.exists():
        raise ConfigError(str(p), "no such results database or run directory")
    return _from_db(p)


def _varying(rows: Iterable[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Settings whose values differ between ``rows`` (in declaration order), and the others' values."""
    rows = list(rows)
    keys = list(rows[0]) if rows else []
    varying = [k for k in keys if len({repr(r[k]) for r in rows}) > 1]
    return varying, {k: rows[0][k] for k in keys if k not in varying}


def _table(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found = _source(path)
    varying, shared = _varying(settings for _, settings, _ in found)
    rows = [{**who, **{k: settings[k] for k in varying}, **measures} for who, settings, measures in found]
    return rows, shared


def records(path: str | Path) -> list[dict[str, Any]]:
    """The rows of :func:`load` as plain dicts (no pandas needed), in the database's sweep and
    member order, or the run's method order."""
    return _table(path)[0]


def constants(path: str | Path) -> dict[str, Any]:
    """The settings every row of ``path`` shares (None: a setting no row uses)."""
    return _table(path)[1]


def load(path: str | Path) -> Any:
    """A tidy ``pandas.DataFrame`` of a results database (``asyncsgd sweep``) or a run directory
    (``asyncsgd run``): one row per run and method, a column per setting that varies and per
    measure (units in the names, accuracy in percent); ``df.attrs["constants"]`` holds the
    settings all rows share. See the module's docstring for the columns."""
    try:
        import pandas as pd
    except ImportError:
        raise ModuleNotFoundError(PANDAS_HINT, name="pandas") from None
    rows, shared = _table(path)
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=["method", *MEASURES])
    for name in set(MEASURES) - WORDS:  # a measure no run has (no validation split) is NaN, not None
        frame[name] = pd.to_numeric(frame[name])
    frame.attrs["constants"] = shared
    frame.attrs["source"] = str(path)
    return frame
