"""What ``asyncsgd run --resume RUN_DIR`` checks before it writes anything.

A resumed run cuts each checkpointed method's ``trace.csv`` and ``metrics.csv`` back to the rows
its checkpoint counts and then appends; a finished method's summary and metrics are read back
for the experiment's summary and plots. So every method is checked first, and the first problem
is one line naming the file: a checkpoint that does not load, is not this method's (another
run's, another model, learner or shard count, settings edited since), logs that are missing or
shorter than the checkpoint says, a summary that is not one, a finished method without its
metrics. Only when every method passes is any file opened for writing, so a refused resume
leaves the run directory exactly as it was.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncsgd.config.files import Experiment
from asyncsgd.errors import ConfigError
from asyncsgd.experiment.checkpoint import FILE, Identity, check_identity, load_checkpoint
from asyncsgd.metrics.recorder import TRACE_COLUMNS, check_log, metric_columns

NUMBER = (int, float)
MAYBE = (int, float, type(None))
SUMMARY_SHAPE: dict[str, Any] = {
    "method": str, "interrupted": bool, "learners": int, "updates": int,
    "final": {"test_accuracy": MAYBE, "train_loss": MAYBE},
    "staleness": {"mean": MAYBE, "p95": MAYBE, "max": MAYBE, "histogram": list},
    "bytes": {"up": NUMBER, "down": NUMBER},
    "time": {"engine_seconds": NUMBER, "wall_seconds": NUMBER, "breakdown": dict},
}  # fmt: skip
"""What a finished method's summary must hold for the run's table and plots."""


@dataclass(frozen=True)
class Resume:
    """What ``--resume`` does with one method: keep it (``finished``: its summary and metrics),
    continue it from ``checkpoint``, or (neither) run it from the start."""

    finished: tuple[dict[str, Any], list[dict[str, float]]] | None = None
    checkpoint: dict[str, Any] | None = None


def plan_resume(out_dir: Path, exp: Experiment, jobs: Sequence[Any]) -> list[Resume]:
    """Check every method of ``exp`` (``jobs`` in the same order) in ``out_dir``; read-only."""
    if not (out_dir / "summary.json").is_file() and not any((out_dir / j.name).is_dir() for j in jobs):
        raise ConfigError(
            "--resume", f"{out_dir} is not a run directory (no summary.json, no directory of its methods)"
        )
    _refuse_links(out_dir)
    for job in jobs:
        if (out_dir / job.name).is_dir():
            _refuse_links(out_dir / job.name)
    return [
        _plan(out_dir / job.name, job, exp.name, method.config)
        for job, method in zip(jobs, exp.methods, strict=True)
    ]


def _refuse_links(directory: Path) -> None:
    """A run writes its logs, summaries and plots into these directories: a symbolic link there (a
    run directory may come from anyone) would make it write elsewhere."""
    for path in directory.iterdir():
        if path.is_symlink():
            raise ConfigError(str(path), "is a symbolic link: a run directory to resume holds none")


def _plan(method_dir: Path, job: Any, experiment: str, config: Any) -> Resume:
    summary = read_summary(method_dir / "summary.json", job.name)
    if summary is not None and not summary["interrupted"]:
        return Resume(finished=(summary, read_metrics(method_dir / "metrics.csv")))
    state = load_checkpoint(method_dir)
    if state is None:
        return Resume()
    check_identity(method_dir / FILE, state, Identity.of(job, experiment, config))
    check_log(method_dir / "trace.csv", TRACE_COLUMNS, state["recorder"]["pushes"])
    columns = metric_columns(job.dataset.has_validation)
    check_log(method_dir / "metrics.csv", columns, len(state["recorder"]["metrics"]))
    return Resume(checkpoint=state)


def read_summary(path: Path, method: str) -> dict[str, Any] | None:
    """A method's ``summary.json`` (None when there is none), checked for what a resume reads."""
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ConfigError(str(path), f"is not a method summary ({type(err).__name__})") from None
    problem = shape_problem(summary, SUMMARY_SHAPE, "")
    if problem:
        raise ConfigError(str(path), f"is not a method summary ({problem})")
    if summary["method"] != method:
        raise ConfigError(
            str(path), f"is the summary of method {summary['method']!r}, not {method!r}: another run's"
        )
    return summary


def shape_problem(value: Any, shape: Any, at: str) -> str:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{at or 'it'} is not an object"
        for key, inner in shape.items():
            if key not in value:
                return f"no {at}{key}"
            problem = shape_problem(value[key], inner, f"{at}{key}.")
            if problem:
                return problem
        return ""
    kinds = shape if isinstance(shape, tuple) else (shape,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        return f"{at.rstrip('.')} has the wrong type"
    return ""


def read_metrics(path: Path) -> list[dict[str, float]]:
    """A finished method's ``metrics.csv``: every value a number, under the columns written."""
    if not path.is_file():
        raise ConfigError(str(path), "is missing (the method's summary says it finished)")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = tuple(reader.fieldnames or ())
            same = header in (metric_columns(False), metric_columns(True))
            rows = [{k: float(v) for k, v in row.items()} for row in reader] if same else None
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError) as err:
        raise ConfigError(str(path), f"is not a metrics log ({type(err).__name__})") from None
    if rows is None:
        raise ConfigError(str(path), "does not have the columns this asyncsgd writes")
    return rows
