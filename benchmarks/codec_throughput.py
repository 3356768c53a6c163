"""Encode + decode throughput of every codec, next to a plain copy and the top-k baselines.

GB/s are gigabytes of float32 input per second (4·n bytes over the time of one encode plus one
decode into what the server applies). The memory-speed reference is a plain single-threaded copy
of the same vector (``numpy.copyto``; the codecs are single-threaded numpy too). Every case is
timed in the same run, repeats interleaved (one call of every case per round), medians reported,
so drift on a shared machine hits all cases alike. Data: a standard normal vector; sparsifiers
keep ρ = 1%, and Strom's threshold is τ = 2.576, which |x| reaches for 1% of standard normal
coordinates.

    python -m benchmarks.codec_throughput
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from asyncsgd.codecs import CODECS, keep_count, make_codec
from asyncsgd.config import RunConfig
from asyncsgd.vocabulary.flat import FlatLayout
from benchmarks.common import write_result

SIZES = (10**6, 10**7)
ROUNDS = 15
MIN_SAMPLE_S = 0.02  # each timed sample repeats the call until it lasts this long
OVERRIDES = {"threshold": {"threshold": 2.576}}
TARGETS = {"sign": 1.0, "efsign": 1.0, "onebit": 1.0, "threshold": 1.0, "qsgd": 0.5, "terngrad": 0.5}
TOPK_BASELINES = ("torch.topk", "numpy.argpartition")


def codec_params(name: str) -> dict:
    defaults = RunConfig().to_dict()
    return {**{k: defaults[k] for k in CODECS.get(name).settings}, **OVERRIDES.get(name, {})}


def cases(n: int, x: torch.Tensor) -> dict[str, Callable[[], object]]:
    layout = FlatLayout.single(n)
    xn = x.numpy()
    k = keep_count(RunConfig().ratio, n)
    out = np.empty_like(xn)
    fns: dict[str, Callable[[], object]] = {"memcpy": lambda: np.copyto(out, xn)}
    for name in CODECS.names():
        codec = make_codec(name, layout, **codec_params(name))
        fns[name] = lambda codec=codec: codec.decode(codec.encode(x, 12345))
    fns["torch.topk"] = lambda: torch.topk(x.abs(), k, sorted=False)
    fns["numpy.argpartition"] = lambda: np.argpartition(np.abs(xn), n - k)[n - k :]
    return fns


def calibrate(fn: Callable[[], object]) -> int:
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-6)
    return max(1, int(MIN_SAMPLE_S / once))


def measure(fns: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds per call of every case, rounds interleaved across cases."""
    reps = {name: calibrate(fn) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / reps[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def main() -> dict:
    load_before = os.getloadavg()[0]
    rows = []
    for n in SIZES:
        x = torch.from_numpy(np.random.default_rng(0).standard_normal(n).astype(np.float32))
        layout = FlatLayout.single(n)
        seconds = measure(cases(n, x))
        gbps = {name: 4 * n / t / 1e9 for name, t in seconds.items()}
        best_topk_baseline = max(gbps[b] for b in TOPK_BASELINES)
        for name in CODECS.names():
            codec = make_codec(name, layout, **codec_params(name))
            nbytes = codec.encode(x, 12345).nbytes
            target = best_topk_baseline if name == "topk" else TARGETS.get(name)
            rows.append(
                {
                    "n": n,
                    "codec": name,
                    "params": codec_params(name),
                    "ms": 1e3 * seconds[name],
                    "gb_per_s": gbps[name],
                    "bits_per_coordinate": 8 * nbytes / n,
                    "target_gb_per_s": target,
                    "met": None if target is None else gbps[name] >= target,
                }
            )
            shown = f"target {target:.2f}" if target is not None else ""
            print(f"n={n:.0e} {name:10s} {gbps[name]:6.2f} GB/s  {8 * nbytes / n:7.3f} bits/coord  {shown}")
        for name in ("memcpy", *TOPK_BASELINES):
            rows.append({"n": n, "codec": name, "ms": 1e3 * seconds[name], "gb_per_s": gbps[name]})
            print(f"n={n:.0e} {name:10s} {gbps[name]:6.2f} GB/s")
    checked = [r for r in rows if r.get("met") is not None]
    result = {
        "target": "encode+decode GB/s of float32 input: sign, efsign, onebit, threshold >= 1; qsgd, terngrad "
        ">= 0.5; topk >= the faster of torch.topk and numpy.argpartition of the same k",
        "met": all(r["met"] for r in checked),
        "missed": [
            f"{r['codec']} n={r['n']:.0e}: {r['gb_per_s']:.2f} < {r['target_gb_per_s']:.2f}"
            for r in checked
            if not r["met"]
        ],
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "rows": rows,
    }
    write_result("codec_throughput", result)
    return result


if __name__ == "__main__":
    main()
