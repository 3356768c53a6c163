"""A progress bar per method (on a terminal), driven by the recorder's per-push callback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from tqdm import tqdm

from asyncsgd.assembly.job import Job


class ProgressBars:
    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: tqdm | None = None

    def __call__(self, job: Job) -> Callable[[int, int], None] | None:
        self.close()
        if not self.enabled:
            return None
        by_updates = job.max_updates is not None
        total = job.max_updates if by_updates else job.max_samples
        bar = tqdm(
            total=total, desc=f"{job.name:>16s}", unit="upd" if by_updates else "smp",
            unit_scale=not by_updates, leave=True, file=sys.stderr, dynamic_ncols=True,
        )  # fmt: skip
        self._bar = bar
        last = [0]

        def report(version: int, samples: int) -> None:
            now = version if by_updates else samples
            if now - last[0] >= max(1, (total or 1) // 500):
                bar.update(now - last[0])
                last[0] = now

        return report

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
