"""A recorded schedule: replay the staleness of a real run in the simulator (``delay="trace:DIR"``).

A run's ``trace.csv`` lists every push in the order the server handled it, with its learner, its
staleness τ and whether it was accepted. Replaying it means: for each accepted push, in order,
learner ``i`` computes its next gradient at the parameters of version ``v − τ`` (``v`` the current
version) and the server applies it; a rejected push only consumes that learner's batch, as it did
in the recorded run. The τ sequence is then the recorded one by construction, for any method:
the same schedule, replayed for sparsification, a remedy or another learning rate. With the
recorded method itself (same seed, disjoint partition, one thread) the replay recomputes the
recorded run's arithmetic, so it reproduces its parameters too.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

TRACE_PREFIX = "trace:"


@dataclass(frozen=True)
class TraceStep:
    learner: int
    tau: int
    accepted: bool


@dataclass(frozen=True)
class TraceSchedule:
    path: Path
    steps: tuple[TraceStep, ...]

    @property
    def max_tau(self) -> int:
        return max((s.tau for s in self.steps if s.accepted), default=0)

    @property
    def learners(self) -> int:
        return max((s.learner for s in self.steps), default=-1) + 1

    @classmethod
    def load(cls, spec: str) -> TraceSchedule:
        """``spec`` is ``trace:PATH``: a trace.csv, a method directory, or a run with one method.

        Only the ``learner``, ``tau`` and ``accepted`` columns are read, so traces written before
        the columns had unique names (two named ``push``) replay as well. A trace may come from
        anyone: every row is checked (learner ≥ 0, 0 ≤ τ ≤ the accepted pushes before it, which
        bounds the versions the replay keeps). Raises ValueError (one line) otherwise.
        """
        path = find_trace(Path(spec.removeprefix(TRACE_PREFIX)))
        steps = []
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                missing = {"learner", "tau", "accepted"} - set(reader.fieldnames or ())
                if missing:
                    raise ValueError(f"{path} is not a trace (no column {sorted(missing)[0]!r})")
                accepted = 0
                for n, row in enumerate(reader, start=2):
                    steps.append(_step(row, accepted, f"{path}:{n}"))
                    accepted += steps[-1].accepted
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise ValueError(f"{path}: cannot read the trace ({type(err).__name__})") from None
        if not steps:
            raise ValueError(f"{path} has no pushes")
        return cls(path, tuple(steps))


def _step(row: dict[str, str | None], accepted_before: int, where: str) -> TraceStep:
    try:
        learner, tau, flag = int(row["learner"] or ""), int(row["tau"] or ""), row["accepted"]
    except ValueError:
        raise ValueError(f"{where}: malformed trace row") from None
    if flag not in ("0", "1") or learner < 0:
        raise ValueError(f"{where}: malformed trace row")
    if flag == "1" and not 0 <= tau <= accepted_before:
        raise ValueError(f"{where}: τ={tau} after {accepted_before} accepted pushes")
    return TraceStep(learner, tau, flag == "1")


def find_trace(path: Path) -> Path:
    if path.is_file():
        return path
    if (path / "trace.csv").is_file():
        return path / "trace.csv"
    found = sorted(path.glob("*/trace.csv")) if path.is_dir() else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.parent.name for p in found)
        raise ValueError(f"{path} holds several methods ({names}): name one, e.g. trace:{found[0].parent}")
    raise ValueError(f"no trace.csv at {path}")
