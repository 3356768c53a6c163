"""Choosing a rate on the validation split: for each group of runs, the grid value of a setting
(``lr``) whose runs reach the best mean validation accuracy, with the test accuracy reported at
that value and at a shared one stated beforehand.

The choice never reads the test set: a rate picked by test accuracy would report the maximum of
noisy estimates as if it were one. A pick at the smallest or largest value of the grid is flagged,
since a wider grid might have found a better rate; so is a grid of fewer than :data:`MIN_GRID`
values (too coarse to call a rate tuned).
"""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

MIN_GRID = 5
"""Fewest grid values a tuned rate is chosen from without a warning."""


@dataclass(frozen=True)
class Trial:
    """One finished run: its group (the setting it is compared in), the tuned setting's value, its
    validation score (higher is better) and test accuracy (either None when not measured)."""

    group: Hashable
    value: float
    score: float | None
    test: float | None


@dataclass(frozen=True)
class Choice:
    """The value chosen for one group, with what the report shows beside it."""

    group: Hashable
    grid: tuple[float, ...]
    value: float | None
    """The value with the best mean score; None when no run of the group has a score."""
    score: float | None
    at_edge: bool
    """The chosen value is the grid's smallest or largest (the best may lie outside the grid)."""
    tested: tuple[float, ...]
    """Test accuracies of the runs at the chosen value (one per replicate)."""
    shared: tuple[float, ...]
    """Test accuracies of the runs at the shared value (empty when none is given or it was not run)."""

    @property
    def coarse(self) -> bool:
        return len(self.grid) < MIN_GRID


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def choose(trials: Iterable[Trial], shared: float | None = None) -> list[Choice]:
    """One :class:`Choice` per group, in order of first appearance.

    The score of a value is the mean over its runs with a score; the best mean wins, a tie goes to
    the smaller value (the more cautious step).
    """
    groups: dict[Hashable, list[Trial]] = {}
    for t in trials:
        groups.setdefault(t.group, []).append(t)
    out = []
    for group, found in groups.items():
        grid = tuple(sorted({t.value for t in found}))
        means = {v: _mean([t.score for t in found if t.value == v and t.score is not None]) for v in grid}
        scored = [(m, -v) for v, m in means.items() if m is not None]
        best = -max(scored)[1] if scored else None

        def tests(value: float | None, group_trials: list[Trial] = found) -> tuple[float, ...]:
            return tuple(t.test for t in group_trials if t.value == value and t.test is not None)

        out.append(
            Choice(
                group, grid, best, means.get(best) if best is not None else None,
                best is not None and best in (grid[0], grid[-1]), tests(best),
                tests(shared) if shared is not None else (),
            )
        )  # fmt: skip
    return out
