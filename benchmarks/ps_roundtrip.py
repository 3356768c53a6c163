"""Parameter-server round trip: pull the dense parameters, push a dense or a top-1% payload, apply.

Updates/s for 10^5, 10^6 and 10^7 float32 parameters with p = 1, 2, 4 learner processes, side by
side in one run with (a) the machine's bound, a memcpy plus an in-place axpy of the same size in
one process, and (b) a parameter server written as a Ray actor in the usual way (each learner calls
``apply_gradients`` on the actor and gets the weights back: ``benchmarks.ray_baseline``). Ours is
the ``local`` engine's server path, run by learner processes: lock, ``pull``, copy, unlock; lock,
``apply`` (validation, decode, rule), unlock. Payloads are made once, so the codec's encoding time
is not part of the round trip. Each learner pulls into the same buffer every cycle, as the
engine's learners do, so with top-1% pushes a pull copies only the coordinates the pushes since
its last pull changed (``engines/local/changed_pulls.py``); the buffer then holds the dense parameters of
the current version exactly as a full copy would. Both sides leave out their first ``WARMUP``
seconds of round trips (processes starting, first touches of shared and private pages, first
transfers) and then measure: ours for ``SECONDS``, the Ray baseline for 1.5 times as long, both
``LONG`` times as long at 10^7, where a Ray round trip takes some 30 ms and a short window would
hold too few of them for a steady rate.

Ours and the Ray actor are measured in pairs, one right after the other (in alternating order,
so neither always runs on the warmer machine), ``PAIRS`` pairs a case, all inside one Ray instance
(idle while ours runs); the ratio to Ray is taken within each pair and reported as the geometric
mean over the pairs with a 95% interval (``benchmarks.common.interval``): on a shared 2-core
machine two runs of one case differ by up to ×2, and two columns measured minutes apart drift
apart.

``PS_SIZES`` and ``PS_LEARNERS`` re-run some cases (``PS_SIZES=1e7 PS_LEARNERS=4``; the result
is then ``ps_roundtrip.subset.json``), ``PS_PAIRS``, ``PS_SECONDS`` and ``PS_WARMUP`` change the
measurement, and ``BENCH_MACHINE=<name>`` keeps the result of another machine apart
(``benchmarks.common.write_result``). What is measured so far is flushed to a
``.partial.json`` beside the result after every case.

    python -m benchmarks.ps_roundtrip
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import load_dataset
from asyncsgd.engines.local.arena import Arena
from asyncsgd.engines.local.changed_pulls import change_log_shape
from asyncsgd.engines.local.serving import SharedServer
from asyncsgd.engines.local.shared import GO, Shared, Spec
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Push
from benchmarks.common import Samples, chosen, interval, median_time, write_result
from benchmarks.ray_baseline import LR, baseline_rate, ray_session

ALL_SIZES, ALL_LEARNERS = (10**5, 10**6, 10**7), (1, 2, 4)
SIZES = chosen("PS_SIZES", ALL_SIZES)
LEARNERS = chosen("PS_LEARNERS", ALL_LEARNERS)
SUBSET = (SIZES, LEARNERS) != (ALL_SIZES, ALL_LEARNERS)  # results kept apart from the whole table
PAYLOADS = ("dense", "top1%")
PAIRS = int(os.environ.get("PS_PAIRS", 6))
SECONDS = float(os.environ.get("PS_SECONDS", 0.6))  # per measurement
RAY_TARGETS = {"ray_1e5": (10**5, 20), "ray_1e7": (10**7, 3)}  # at least this many times Ray's updates/s
BOUND_SIZES = {"bound_1e6": 10**6, "bound_1e7": 10**7}  # dense within 2× of memcpy + axpy here
LONG = 3.0  # windows this many times as long at 10^7
WARMUP = float(os.environ.get("PS_WARMUP", 1.0))  # seconds of round trips left out first, both sides


def make_job(payload: str) -> Job:
    codec = {"dense": {"codec": "identity"}, "top1%": {"codec": "topk", "ratio": 0.01}}[payload]
    cfg = RunConfig.from_dict({"dataset": "synthetic", "updates": 10**12, "lr": LR, **codec})
    return Job(cfg, load_dataset("synthetic"), lambda: None)


def worker(i: int, address, spec: Spec, payload: str, out, seconds: float, warmup: float) -> None:
    torch.set_num_threads(1)
    job = make_job(payload)
    arena = Arena.attach(spec.layout(), *address)
    shared = Shared(spec, arena)
    layout = FlatLayout.single(spec.size)
    server = SharedServer(shared, job, layout, i, timeout=60.0)
    grad = torch.from_numpy(np.random.default_rng(i).standard_normal(spec.size).astype(np.float32))
    push = Push(i, 0, job.codec(layout).encode(grad, 0))
    local = torch.empty(spec.size)

    def done(*_: object) -> None:
        server.published(server.next_sequence())

    def cycle() -> None:
        versions, _, _ = server.pull_into(local)
        server.push(Push(i, versions[0], push.payload), versions, 1, done)

    while not shared.control[GO]:
        time.sleep(0.0005)
    start = time.perf_counter()
    while time.perf_counter() - start < warmup:
        cycle()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        cycle()
        n += 1
    out[i] = n / (time.perf_counter() - start)


def ours(
    size: int, p: int, payload: str, change_log: bool = True, seconds: float = SECONDS,
    warmup: float = WARMUP, shards: int = 1,
) -> float:  # fmt: skip
    """Updates/s of ``p`` learner processes after ``warmup`` seconds of round trips, all at once;
    ``change_log=False``: every pull a full copy; ``shards``: S shards of the server."""
    largest = -(-size // shards)
    template = make_job(payload).server(torch.zeros(largest), FlatLayout.single(largest), copy=False)
    log = change_log_shape(template, largest) if change_log else (0, 0)  # as the engine sizes it
    spec = Spec(size, shards, p, 1, 1, ((),) * shards, *log)
    arena = Arena.create(spec.layout())
    shared = Shared(spec, arena)
    shared.init_locks()
    ctx = mp.get_context("forkserver")
    out = ctx.Array("d", p)
    procs = [
        ctx.Process(target=worker, args=(i, arena.address, spec, payload, out, seconds, warmup))
        for i in range(p)
    ]
    for proc in procs:
        proc.start()
    time.sleep(0.2)
    shared.control[GO] = 1
    for proc in procs:
        proc.join(60 + warmup)
    rate = float(sum(out[:]))
    del shared
    arena.close()
    return rate


def window(size: int) -> float:
    """Seconds ours measures at ``size`` (the Ray baseline 1.5 times as long)."""
    return SECONDS * (LONG if size >= 10**7 else 1.0)


def bound(size: int) -> float:
    torch.set_num_threads(1)  # as the learners: a busy machine makes thread pools stall
    src, dst = torch.randn(size), torch.empty(size)
    x, g = torch.randn(size), torch.randn(size)
    t = median_time(lambda: (dst.copy_(src), x.add_(g, alpha=-LR)), repeats=15)
    return 1.0 / t


def summary(samples: Samples, bounds: dict[int, list[float]], load: float) -> dict:
    """The result of the pairs measured so far: a row per case with a pair, and whether the
    targets are met once every case has all of its pairs."""
    rows = []
    for (n, p, payload), got in samples.items():
        pairs = min(len(got["ours"]), len(got["ray"]))
        if pairs == 0:
            continue
        mine, theirs = got["ours"][:pairs], got["ray"][:pairs]
        a, r, b = statistics.median(mine), statistics.median(theirs), statistics.median(bounds[n])
        ratio, low, high = interval([o / y for o, y in zip(mine, theirs, strict=True)])
        rows.append({
            "parameters": n, "learners": p, "payload": payload, "ours_per_s": a, "ray_per_s": r,
            "bound_per_s": b, "vs_ray": ratio, "vs_ray_95": [low, high], "vs_bound": a / b, "pairs": pairs,
        })  # fmt: skip
    complete = all(r["pairs"] == PAIRS for r in rows) and len(rows) == len(samples)
    result: dict = {
        "target": "≥ 20× the Ray actor at 10^5 and ≥ 3× at 10^7; "
        "dense within 2× of memcpy+axpy at 10^6 and 10^7",
        "complete": complete,
        "pairs": PAIRS,
        "seconds": SECONDS,
        "seconds_1e7": window(10**7),
        "warmup": WARMUP,
        "load_average": [load, os.getloadavg()[0]],
        "rows": rows,
    }
    if not complete:
        return result
    sizes = {r["parameters"] for r in rows}

    def least(n: int, key: int | None = None) -> float:
        return min(r["vs_ray"] if key is None else r["vs_ray_95"][key] for r in rows if r["parameters"] == n)

    ray_targets = {name: nt for name, nt in RAY_TARGETS.items() if nt[0] in sizes}  # PS_SIZES may omit some
    best = {
        name: max(r["vs_bound"] for r in rows if r["parameters"] == n and r["payload"] == "dense")
        for name, n in BOUND_SIZES.items()
        if n in sizes
    }
    result["met"] = {
        **{name: least(n) >= times for name, (n, times) in ray_targets.items()},
        **{name: b >= 0.5 for name, b in best.items()},
    }
    result["met_at_95_low"] = {name: least(n, 0) >= times for name, (n, times) in ray_targets.items()}
    return result


def main() -> dict:
    cases = [(n, p, pl) for n in SIZES for p in LEARNERS for pl in PAYLOADS]
    samples: Samples = {c: {"ours": [], "ray": []} for c in cases}
    bounds: dict[int, list[float]] = {n: [] for n in SIZES}
    load = os.getloadavg()[0]
    with ray_session(max(LEARNERS) + 1) as ray:
        for i in range(PAIRS):  # every case once a round: drift over the run hits every case alike
            for n in SIZES:
                bounds[n].append(bound(n))
            for k, case in enumerate(cases):
                got = samples[case]
                for side in ("ours", "ray") if (i + k) % 2 == 0 else ("ray", "ours"):
                    seconds = window(case[0])
                    if side == "ours":
                        got["ours"].append(ours(*case, seconds=seconds))
                    else:
                        got["ray"].append(baseline_rate(ray, *case, 1.5 * seconds, WARMUP))
                so_far = summary(samples, bounds, load)
                write_result("ps_roundtrip", so_far, partial=True, subset=SUBSET)
    result = summary(samples, bounds, load)
    for r in result["rows"]:
        low, high = r["vs_ray_95"]
        print(f"n={r['parameters']:>9,} p={r['learners']} {r['payload']:6s} ours {r['ours_per_s']:9.0f}/s  "
              f"ray {r['ray_per_s']:7.1f}/s  ×{r['vs_ray']:6.1f} (95%: ×{low:.1f} to ×{high:.1f})  "
              f"bound {r['bound_per_s']:8.0f}/s  ours/bound {r['vs_bound']:.2f}")  # fmt: skip
    write_result("ps_roundtrip", result, subset=SUBSET)
    return result


if __name__ == "__main__":
    main()
