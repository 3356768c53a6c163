"""Progress of a run, per method: a bar where a person watches (a terminal, or a notebook, where
``tqdm.auto`` draws a widget), else a periodic one-line record through :mod:`logging` (logger
``asyncsgd``, level INFO): at every tenth of the budget and at least every ``every`` seconds, the
method, update (or samples) of its budget, epoch and the last test accuracy.

A library leaves logging to its program: nothing here configures a logger, except that
:class:`Progress` given ``to_stderr`` (what ``asyncsgd run`` does) hangs a handler on the
``asyncsgd`` logger, never the root, and takes it off again in :meth:`Progress.close`.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from asyncsgd.assembly.job import Job

log = logging.getLogger("asyncsgd")
STEPS = 10
"""Lines a run logs at least: one at every tenth of its budget."""


def watched() -> bool:
    """Whether a person watches this process's stderr: a terminal, or a Jupyter kernel."""
    if sys.stderr.isatty():
        return True
    ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return ipython is not None and getattr(ipython(), "kernel", None) is not None


class Report:
    """The progress of one method: called with (update, samples) after each push, and told each
    evaluation's row (:meth:`evaluated`, a listener of the recorder)."""

    def __init__(self, job: Job, bar: bool, every: float) -> None:
        self.name = job.name
        self.by_updates = job.max_updates is not None
        self.total = int((job.max_updates if self.by_updates else job.max_samples) or 1)
        self.n_train = job.dataset.n_train
        self.every = every
        self.accuracy = float("nan")
        self.done = 0
        self._next_step = 1
        self._last_line = time.monotonic()
        self.bar: Any = None
        if bar:
            self.bar = tqdm(
                total=self.total, desc=f"{job.name:>16s}", unit="upd" if self.by_updates else "smp",
                unit_scale=not self.by_updates, leave=True, file=sys.stderr, dynamic_ncols=True,
            )  # fmt: skip

    def __call__(self, version: int, samples: int) -> None:
        now = version if self.by_updates else samples
        if self.bar is not None:
            if now - self.done >= max(1, self.total // 500):
                self.bar.update(now - self.done)
                self.done = now
            return
        self.done = now
        clock = time.monotonic()
        if now * STEPS >= self._next_step * self.total or clock - self._last_line >= self.every:
            self._next_step = now * STEPS // self.total + 1
            self._last_line = clock
            unit = "update" if self.by_updates else "samples"
            log.info(
                "%s: %s %d/%d (%.0f%%), epoch %.2f, test_accuracy %.4f", self.name, unit, now, self.total,
                100 * now / self.total, samples / self.n_train, self.accuracy,
            )  # fmt: skip

    def evaluated(self, row: dict[str, float]) -> None:
        self.accuracy = row.get("test_accuracy", float("nan"))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Progress:
    """Makes each method's :class:`Report` (the runner's ``progress``). ``enabled``: ``None``
    bars where watched, else log lines; ``False`` nothing; ``True`` bars. ``every``: most seconds
    between two log lines."""

    def __init__(self, enabled: bool | None = None, every: float = 30.0, to_stderr: bool = False) -> None:
        self.enabled = enabled is not False
        self.bars = watched() if enabled is None else enabled
        self.every = every
        self._report: Report | None = None
        self._handler: logging.Handler | None = None
        self._level = log.level
        if to_stderr and self.enabled and not self.bars:
            self._handler = logging.StreamHandler(sys.stderr)
            self._handler.setFormatter(logging.Formatter("asyncsgd: %(message)s"))
            log.addHandler(self._handler)
            if log.getEffectiveLevel() > logging.INFO:
                log.setLevel(logging.INFO)

    def __call__(self, job: Job) -> Report | None:
        if self._report is not None:
            self._report.close()
        self._report = Report(job, self.bars, self.every) if self.enabled else None
        return self._report

    def close(self) -> None:
        """Close the last bar, and take off the handler this object hung (idempotent)."""
        if self._report is not None:
            self._report.close()
            self._report = None
        if self._handler is not None:
            log.removeHandler(self._handler)
            log.setLevel(self._level)
            self._handler = None
