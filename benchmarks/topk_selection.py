"""Exact top-k selection: our selector vs torch.topk and numpy.argpartition, same run, same data.

GB/s are bytes of float32 input scanned per second. Also reported: the memory-bandwidth reference
of a plain copy of the same vector, which no selection can beat, whether our indices are the set
``torch.topk`` picks, and the 1-minute load average before the run (other work on the cores slows
every column).

    python -m benchmarks.topk_selection
"""

from __future__ import annotations

import os

import numpy as np
import torch

from asyncsgd.codecs import keep_count
from asyncsgd.codecs.selection import TopKSelector
from benchmarks.common import median_time, write_result

SIZES = (10**6, 10**7)
RATIOS = (0.01, 0.001)
TARGET_GB_PER_S = 8.0


def main() -> dict:
    load = os.getloadavg()[0]
    rows = []
    rng = np.random.default_rng(0)
    for n in SIZES:
        g = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
        gn = g.numpy()
        out = torch.empty_like(g)
        copy_s = median_time(lambda out=out, g=g: out.copy_(g))
        for ratio in RATIOS:
            k = keep_count(ratio, n)
            sel = TopKSelector()
            ours = sel.select(gn, k)
            ref = np.argpartition(np.abs(gn), n - k)[n - k :]
            assert np.array_equal(np.sort(np.abs(gn[ours])), np.sort(np.abs(gn[ref]))), "not exact"
            theirs = torch.topk(g.abs(), k, sorted=False).indices.numpy()
            times = {
                "asyncsgd": median_time(lambda sel=sel, gn=gn, k=k: sel.select(gn, k)),
                "torch.topk": median_time(lambda g=g, k=k: torch.topk(g.abs(), k, sorted=False)),
                "numpy.argpartition": median_time(
                    lambda gn=gn, n=n, k=k: np.argpartition(np.abs(gn), n - k)[n - k :]
                ),
            }
            best_baseline = min(times["torch.topk"], times["numpy.argpartition"])
            row = {
                "n": n,
                "ratio": ratio,
                "k": k,
                "ms": {name: 1e3 * t for name, t in times.items()},
                "gb_per_s": {name: 4 * n / t / 1e9 for name, t in times.items()},
                "copy_gb_per_s": 8 * n / copy_s / 1e9,
                "speedup_vs_best_baseline": best_baseline / times["asyncsgd"],
                "same_set_as_torch_topk": bool(np.array_equal(ours, np.sort(theirs))),
            }
            rows.append(row)
            print(
                f"n={n:>9,} ratio={ratio:<6} ours {row['gb_per_s']['asyncsgd']:5.2f} GB/s  "
                f"torch.topk {row['gb_per_s']['torch.topk']:5.2f}  argpartition "
                f"{row['gb_per_s']['numpy.argpartition']:5.2f}  copy {row['copy_gb_per_s']:5.1f}  "
                f"×{row['speedup_vs_best_baseline']:.2f} vs best baseline"
            )
    result = {
        "target": f"exact top-k scanning at least {TARGET_GB_PER_S:g} GB/s at every size and ratio",
        "met": all(r["gb_per_s"]["asyncsgd"] >= TARGET_GB_PER_S for r in rows),
        "load_average_1min": load,
        "rows": rows,
    }
    write_result("topk_selection", result)
    return result


if __name__ == "__main__":
    main()
