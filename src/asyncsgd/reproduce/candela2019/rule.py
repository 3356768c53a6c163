"""The decision rule as its file states it: the margins, the level, when staleness hurts, and the
most seeds a comparison may ask for, read from ``sweeps/candela2019/<size>/decision.toml``, which
is committed beside the sweep files before any run (so the rule cannot follow the data)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

from asyncsgd.errors import ConfigError
from asyncsgd.reproduce.candela2019.plan import NAME
from asyncsgd.reproduce.study import SWEEPS_PACKAGE

DECISION = "decision.toml"


@dataclass(frozen=True)
class Rule:
    margin: float
    """Points of final test accuracy: a difference inside ±margin does not matter."""
    gradient_margin: float
    """A relative change of the ergodic ‖∇f‖² that does not matter; compared as ln(1 + m)."""
    alpha: float
    hurts: float
    """Points Downpour may lose against the staleness-free reference before staleness hurts."""
    max_seeds: int
    source: str

    @property
    def log_gradient_margin(self) -> float:
        return math.log1p(self.gradient_margin)


def _number(raw: dict[str, object], key: str, where: str, low: float, high: float) -> float:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not low < v < high:
        raise ConfigError(f"{where}: {key}", f"must be a number in ({low:g}, {high:g}), got {v!r}")
    return float(v)


def parse_rule(raw: dict[str, object], where: str) -> Rule:
    """The rule of a decision file's table (ConfigError naming the key at fault)."""
    known = {"margin", "gradient_margin", "alpha", "hurts", "max_seeds"}
    for key in sorted(set(raw) - known):
        raise ConfigError(f"{where}: {key}", f"unknown key (known: {', '.join(sorted(known))})")
    seeds = raw.get("max_seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ConfigError(f"{where}: max_seeds", f"must be an integer >= 2, got {seeds!r}")
    return Rule(
        margin=_number(raw, "margin", where, 0, math.inf),
        gradient_margin=_number(raw, "gradient_margin", where, 0, math.inf),
        alpha=_number(raw, "alpha", where, 0, 0.5),
        hurts=_number(raw, "hurts", where, 0, math.inf),
        max_seeds=seeds,
        source=where,
    )


def load_rule(size: str) -> Rule:
    """The rule stated for the study at ``size`` (quick or full; a smoke plan uses its size's)."""
    where = f"asyncsgd/reproduce/sweeps/{NAME}/{size}/{DECISION}"
    text = resources.files(SWEEPS_PACKAGE).joinpath("sweeps", NAME, size, DECISION).read_text()
    return parse_rule(tomllib.loads(text), where)
