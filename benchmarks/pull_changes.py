"""Pulls that copy only the changed coordinates (``engines/local/changed_pulls.py``) against full copies.

Two measurements on 10^7 float32 parameters, one thread, in one run:

* the unit costs behind the log's thresholds: gathering and scattering 10^5 sorted scattered
  coordinates (``index_select`` + ``index_copy_``, what a partial pull does) against copying all
  10^7 (``copy_``), in ns per coordinate;
* the ``local`` server path of ``benchmarks.ps_roundtrip`` with top-1% pushes, p = 1, 2, 4, with
  the change log as the engine sizes it and with every pull a full copy, interleaved repeats,
  medians.

    python -m benchmarks.pull_changes
"""

from __future__ import annotations

import os
import statistics

import numpy as np
import torch

from benchmarks.common import median_time, write_result
from benchmarks.ps_roundtrip import ours

SIZE = 10**7
SCATTERED = 10**5
LEARNERS = (1, 2, 4)
REPEATS = int(os.environ.get("PULL_REPEATS", 5))
SECONDS = float(os.environ.get("PULL_SECONDS", 1.5))


def unit_costs() -> dict[str, float]:
    torch.set_num_threads(1)
    src, dst = torch.randn(SIZE), torch.randn(SIZE)
    idx = torch.from_numpy(np.sort(np.random.default_rng(0).choice(SIZE, SCATTERED, replace=False)))
    scattered = median_time(lambda: dst.index_copy_(0, idx, src.index_select(0, idx)), repeats=15)
    full = median_time(lambda: dst.copy_(src), repeats=15)
    return {
        "scattered_ms": 1e3 * scattered, "full_copy_ms": 1e3 * full,
        "scattered_ns_per_coordinate": 1e9 * scattered / SCATTERED,
        "copy_ns_per_coordinate": 1e9 * full / SIZE,
    }  # fmt: skip


def main() -> dict:
    load = os.getloadavg()[0]
    units = unit_costs()
    samples: dict[tuple[int, bool], list[float]] = {(p, log): [] for p in LEARNERS for log in (True, False)}
    for _ in range(REPEATS):
        for p in LEARNERS:
            for log in (True, False):
                samples[(p, log)].append(ours(SIZE, p, "top1%", change_log=log, seconds=SECONDS))
    rows = []
    for p in LEARNERS:
        changes, full = statistics.median(samples[(p, True)]), statistics.median(samples[(p, False)])
        ratio = changes / full
        rows.append({"learners": p, "changes_per_s": changes, "full_copy_per_s": full, "ratio": ratio})
        print(f"p={p}  changed coordinates {changes:6.0f}/s  full copies {full:6.0f}/s  ×{ratio:.2f}")
    print(f"unit costs: {units}")
    result = {
        "parameters": SIZE, "payload": "top1%", "repeats": REPEATS, "seconds": SECONDS, "units": units,
        "rows": rows, "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip
    write_result("pull_changes", result)
    return result


if __name__ == "__main__":
    main()
