"""A sweep as the report sees it: its members with their records and measurements, and groups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncsgd.config.files import NAME
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.db import Member, ResultsDB


@dataclass(frozen=True)
class RunView:
    """One member of a sweep: its record, metrics over time and staleness histogram."""

    member: Member
    metrics: list[dict[str, float | None]]
    histogram: list[int]

    @property
    def done(self) -> bool:
        return self.member.status == "done"

    @property
    def diverged(self) -> bool:
        """Done, and its model diverged: it stopped early, every push NaN/Inf (a result)."""
        return self.done and self.summary.get("stop_reason") == "diverged"

    @property
    def summary(self) -> dict[str, Any]:
        return self.member.summary or {}

    def key(self, name: str) -> Any:
        """The value that tells this run apart by ``name``: the method, or its grid point's value
        (None where its method does not vary ``name``)."""
        return self.member.method if name == "method" else self.member.point.get(name)

    def setting(self, name: str) -> Any:
        """The run's value of setting ``name`` (its grid point's, else its resolved config's)."""
        return self.member.point.get(name, self.member.config.get(name))


@dataclass(frozen=True)
class SweepView:
    name: str
    description: str
    definition: dict[str, Any]
    source: str
    db_path: str
    runs: list[RunView]

    def varied(self, replicates: Sequence[str] = ()) -> list[str]:
        """``method`` (when there are several) and every grid key taking several values, in order."""
        keys: list[str] = []
        if len({r.member.method for r in self.runs}) > 1:
            keys.append("method")
        for r in self.runs:
            for k in r.member.point:
                if k not in keys and k not in replicates:
                    keys.append(k)
        return [k for k in keys if k == "method" or len({repr(r.key(k)) for r in self.runs}) > 1]

    def count(self, status: str) -> int:
        return sum(1 for r in self.runs if r.member.status == status)


def load_sweep_view(db: ResultsDB, name: str) -> SweepView:
    if not NAME.match(name):  # a database may come from anyone, and a report names a directory after it
        raise ConfigError(str(db.path), f"holds a sweep named {name!r}, which cannot name a report directory")
    info = db.sweep_info(name)
    runs = []
    for m in db.members(name):
        has_data = m.status in ("done", "interrupted")
        runs.append(
            RunView(m, db.metrics(m.run_id) if has_data else [], db.histogram(m.run_id) if has_data else [])
        )
    return SweepView(name, info["description"], info["definition"], info["source"], str(db.path), runs)


def group(runs: Iterable[RunView], keys: Sequence[str]) -> dict[tuple, list[RunView]]:
    """Runs by their values of ``keys``, groups in order of first appearance."""
    out: dict[tuple, list[RunView]] = {}
    for r in runs:
        out.setdefault(tuple(r.key(k) for k in keys), []).append(r)
    return out


def label(keys: Sequence[str], values: Sequence[Any]) -> str:
    parts = [
        str(v) if k == "method" else f"{k}={v}" for k, v in zip(keys, values, strict=True) if v is not None
    ]
    return " ".join(parts) or "all runs"
