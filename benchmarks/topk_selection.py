"""Exact top-k selection: our selector vs torch.topk and numpy.argpartition, same run, same data.

GB/s are bytes of float32 input scanned per second. ``asyncsgd`` is the selector as installed
(compiled kernels when numba is present), ``asyncsgd numpy`` the same selector without them. Also
reported: the memory-bandwidth reference of a plain copy of the same vector, which no selection can
beat, whether our indices are the set ``torch.topk`` picks, the first call's time (numba's import
and compilation), and the 1-minute load average before the run (other work on the cores slows
every column).

    python -m benchmarks.topk_selection
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from asyncsgd.codecs import keep_count
from asyncsgd.codecs.selection import COMPILED_MIN, TopKSelector, compiled_kernels
from benchmarks.common import median_time, write_result

SIZES = (10**6, 10**7)
RATIOS = (0.01, 0.001)
TARGET_GB_PER_S = 8.0


def main() -> dict:
    load = os.getloadavg()[0]
    rows = []
    rng = np.random.default_rng(0)
    compiled = compiled_kernels() is not None
    start = time.perf_counter()
    TopKSelector().select(rng.standard_normal(COMPILED_MIN).astype(np.float32), 100)  # compiles
    first_call_s = time.perf_counter() - start
    for n in SIZES:
        g = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
        gn = g.numpy()
        out = torch.empty_like(g)
        copy_s = median_time(lambda out=out, g=g: out.copy_(g))
        for ratio in RATIOS:
            k = keep_count(ratio, n)
            sel, plain = TopKSelector(), TopKSelector(compiled=False)
            ours = sel.select(gn, k)
            assert np.array_equal(ours, plain.select(gn, k)), "the two paths differ"
            ref = np.argpartition(np.abs(gn), n - k)[n - k :]
            assert np.array_equal(np.sort(np.abs(gn[ours])), np.sort(np.abs(gn[ref]))), "not exact"
            theirs = torch.topk(g.abs(), k, sorted=False).indices.numpy()
            times = {
                "asyncsgd": median_time(lambda sel=sel, gn=gn, k=k: sel.select(gn, k)),
                "asyncsgd numpy": median_time(lambda plain=plain, gn=gn, k=k: plain.select(gn, k)),
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
            gb = row["gb_per_s"]
            print(
                f"n={n:>9,} ratio={ratio:<6} ours {gb['asyncsgd']:5.2f} GB/s  numpy path "
                f"{gb['asyncsgd numpy']:5.2f}  torch.topk {gb['torch.topk']:5.2f}  argpartition "
                f"{gb['numpy.argpartition']:5.2f}  copy {row['copy_gb_per_s']:5.1f}  "
                f"×{row['speedup_vs_best_baseline']:.2f} vs best baseline"
            )
    result = {
        "target": f"exact top-k scanning at least {TARGET_GB_PER_S:g} GB/s at every size and ratio",
        "met": all(r["gb_per_s"]["asyncsgd"] >= TARGET_GB_PER_S for r in rows),
        "compiled": compiled,
        "first_call_s": first_call_s,
        "load_average_1min": load,
        "rows": rows,
    }
    print(f"compiled kernels: {compiled}; first call {first_call_s:.2f} s; load average {load:.2f}")
    write_result("topk_selection", result)
    return result


if __name__ == "__main__":
    main()
