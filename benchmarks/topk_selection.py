"""Exact top-k selection: our selector vs torch.topk and numpy.argpartition, same run, same data.

GB/s are bytes of float32 input scanned per second. ``asyncsgd`` is the selector as installed
(compiled kernels when numba is present), ``asyncsgd numpy`` the same selector without them. Also
reported: the memory-bandwidth reference of a plain copy of the same vector, which no selection can
beat, whether our indices are the set ``torch.topk`` picks, the first call's time (numba's import
and compilation), and the 1-minute load average before the run (other work on the cores slows
every column). With the compiled kernels, ``scan_modes`` times their scan alone at 10^6 elements
for shares passing its threshold from 0.2% to 5%, with and without two branch-free takes per word
(``kernels.scan``'s ``eager``): the measurement behind ``selection.EAGER_DENSITIES``.

    python -m benchmarks.topk_selection
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from asyncsgd.codecs import keep_count
from asyncsgd.codecs.selection import COMPILED_MIN, TopKSelector, compiled_kernels, magnitude_key
from benchmarks.common import median_time, write_result

SIZES = (10**6, 10**7)
RATIOS = (0.01, 0.001)
TARGET_GB_PER_S = 8.0
DENSITIES = (0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05)


def scan_modes(n: int = 10**6) -> list[dict]:
    """µs of the compiled scan alone with ``eager`` 0 and 2, for each share of ``n`` passing; the
    same positions asserted."""
    kernels = compiled_kernels()
    x = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    bits, idx, keys = x.view(np.int32), np.empty(n + 64, np.int64), np.empty(n + 64, np.int32)
    rows = []
    for density in DENSITIES:
        key = magnitude_key(np.quantile(np.abs(x), 1 - density))
        found = {eager: idx[: kernels.scan(bits, key, idx, keys, eager)].copy() for eager in (0, 2)}
        assert np.array_equal(found[0], found[2]), "the scan's modes differ"
        us = {
            e: 1e6 * median_time(lambda e=e, key=key: kernels.scan(bits, key, idx, keys, e), 15)
            for e in (0, 2)
        }
        rows.append({"density": density, "loop_us": us[0], "eager_us": us[2], "eager_vs_loop": us[2] / us[0]})
        print(
            f"scan at {100 * density:.1f}% passing: loop {us[0]:6.0f} µs, "
            f"two branch-free takes {us[2]:6.0f} µs"
        )
    return rows


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
        "scan_modes": scan_modes() if compiled else [],
    }
    print(f"compiled kernels: {compiled}; first call {first_call_s:.2f} s; load average {load:.2f}")
    write_result("topk_selection", result)
    return result


if __name__ == "__main__":
    main()
