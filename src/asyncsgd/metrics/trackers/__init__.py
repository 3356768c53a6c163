"""Experiment trackers: what the recorder measures, also sent to TensorBoard or MLflow.

The runner opens the trackers a run's ``loggers`` name (:data:`asyncsgd.config.trackers.TRACKERS`)
and feeds them: the run's settings when it starts, each evaluation's row (the one ``metrics.csv``
gets, at step = its update) through the recorder's listeners, and the numbers of ``summary.json``
when it ends. Nothing below the runner knows they exist. A tracker writes beside the run's method
directories: ``<out>/tensorboard/<method>/`` and the MLflow store ``<out>/mlflow.db`` for
``asyncsgd run --out <out>``, ``<traces>/tensorboard/<run id>/`` and ``<traces>/mlflow.db`` for a
sweep with ``--traces <traces>``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncsgd.config.schema import RunConfig
from asyncsgd.config.trackers import TRACKERS
from asyncsgd.errors import ConfigError


@dataclass(frozen=True)
class Place:
    """Where and under which names a run is tracked."""

    out_dir: Path | None
    """The method's own directory (``<out>/<method>``); trackers write beside it, in its parent."""
    experiment: str
    """The experiment (MLflow's experiment name)."""
    run: str
    """This run within it: the method's name, or a sweep run's id."""

    def beside(self, tracker: str) -> Path:
        """The directory a tracker writing files uses, or a ConfigError when the run writes none."""
        if self.out_dir is None:
            raise ConfigError(
                "loggers", f"{tracker} writes beside the run's files, and this run writes none: give it "
                "an output directory (asyncsgd sweep --traces DIR; out= in the Python API)",
            )  # fmt: skip
        return self.out_dir.parent


class Tracker:
    """One experiment tracker; a subclass opens its store in ``__init__`` (failing before the run
    starts) and overrides what it records."""

    def __init__(self, place: Place, config: RunConfig) -> None:
        self.place = place

    def settings(self, values: dict[str, Any]) -> None:
        """The run's resolved settings, once, before the first evaluation."""

    def metrics(self, row: dict[str, float]) -> None:
        """One evaluation: the row of ``metrics.csv``, at step ``row["update"]``."""

    def summary(self, values: dict[str, float], stop_reason: str) -> None:
        """The numbers of ``summary.json`` (:func:`scalars`) and why the run stopped."""

    def close(self) -> None:
        """Flush and release what the tracker holds (also after a failed run)."""


def scalars(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of a summary, nested keys joined by ``.``; flags, text, lists and tables by
    learner (keys that are learner numbers) are left out."""
    found: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if not any(str(k).isdigit() for k in value):
                found.update(scalars(value, f"{name}."))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            found[name] = float(value)
    return found


def metric_values(row: dict[str, float]) -> Iterator[tuple[str, float]]:
    """The measures of an evaluation row, without its step (``update``)."""
    for key, value in row.items():
        if key != "update" and isinstance(value, numbers.Real):
            yield key, float(value)


class Trackers:
    """The trackers of one run, fed together; an empty set does nothing."""

    def __init__(self, trackers: list[Tracker]) -> None:
        self.trackers = trackers

    @classmethod
    def open(cls, config: RunConfig, place: Place) -> Trackers:
        opened: list[Tracker] = []
        try:
            for name in config.loggers:
                opened.append(TRACKERS.get(name)(place, config))
        except BaseException:
            cls(opened).close()
            raise
        found = cls(opened)
        found.settings(config.to_dict())
        return found

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def settings(self, values: dict[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.settings(values)

    def metrics(self, row: dict[str, float]) -> None:
        for tracker in self.trackers:
            tracker.metrics(row)

    def finish(self, summary: dict[str, Any]) -> None:
        """Record the run's summary and close."""
        values = scalars(summary)
        for tracker in self.trackers:
            tracker.summary(values, str(summary.get("stop_reason", "")))
        self.close()

    def close(self) -> None:
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            tracker.close()
