"""What a report shows, as plain data: its tables, its figures and the recipe that lists them.

Both the drawing (:mod:`.figures`) and the reading of a sweep's ``[report]`` table
(:mod:`.recipe`) use these descriptions; neither needs the other to know them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MEASURES = (
    "test_accuracy", "train_loss", "updates", "epochs", "tau_mean", "tau_p95", "tau_max", "mb_up",
    "wall_seconds",
)  # fmt: skip
CURVE_X = ("update", "samples", "epoch", "time", "wall")


@dataclass(frozen=True)
class Table:
    title: str = "Results"
    measures: tuple[str, ...] = DEFAULT_MEASURES
    rows: tuple[str, ...] | None = None
    """Keys that make a row (``method`` or grid keys); None: method and every varied key."""


@dataclass(frozen=True)
class Figure:
    kind: str
    y: str = "test_accuracy"
    x: str = "update"
    facet: str = ""
    lines: tuple[str, ...] | None = None
    title: str = ""
    scale: str = "linear"

    @property
    def name(self) -> str:
        """File stem of the figure, unique within a recipe's usual use."""
        if self.kind == "staleness":
            parts = [self.kind]
        elif self.kind == "breakdown":
            parts = [self.kind, "vs", self.x]
        else:
            parts = [self.kind, self.y.replace(":", "-"), "vs", self.x]
        stem = "-".join([*parts, *(["by", self.facet] if self.facet else [])])
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem)  # a recipe may come from anyone: no separators


@dataclass(frozen=True)
class Tuning:
    """A table of the value of ``key`` chosen on the validation split for each row (the best mean
    final validation accuracy over replicates), with the test accuracy there and at ``shared``."""

    key: str = "lr"
    shared: float | None = None
    rows: tuple[str, ...] | None = None
    """Keys that make a row; None: the report's row keys without ``key``."""
    title: str = ""


@dataclass(frozen=True)
class Recipe:
    tables: tuple[Table, ...]
    figures: tuple[Figure, ...]
    replicates: tuple[str, ...] = ("seed",)
    tunings: tuple[Tuning, ...] = ()
