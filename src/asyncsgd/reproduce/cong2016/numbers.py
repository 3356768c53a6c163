"""What the report reads from the sweeps: the p values, the budget, means over seeds, test
accuracy at a point of the budget, the learning rates and the shares of time per phase."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from asyncsgd.report.measures import phase_shares
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce.results import aggregate, mean_at, select, summary_values


def learner_counts(view: SweepView) -> list[int]:
    return sorted({int(r.setting("learners")) for r in view.runs})


def budget_epochs(view: SweepView) -> float:
    return float(view.definition.get("epochs", 0.0))


def mean_of(runs: Sequence[RunView], name: str) -> float | None:
    return aggregate(runs, name).mean


def accuracy_at(view: SweepView, method: str, p: int, epoch: float) -> float | None:
    """Our mean test accuracy (%) of ``method`` with p learners at ``epoch``."""
    return mean_at(select(view.runs, method=method, learners=p), "epoch", "test_accuracy", epoch, 100).mean


def mean_lr(view: SweepView, method: str) -> float | None:
    lrs = summary_values(select(view.runs, method=method), "lr")
    return statistics.fmean(lrs) if lrs else None


def phase_share(view: SweepView, p: int, phase: str) -> float | None:
    shares = [s.get(phase, 0.0) for s in (phase_shares(r) for r in select(view.runs, learners=p)) if s]
    return statistics.fmean(shares) if shares else None


def dataset_of(view: SweepView, method: str) -> str:
    runs = select(view.runs, method=method)
    return str(runs[0].setting("dataset")) if runs else "–"
