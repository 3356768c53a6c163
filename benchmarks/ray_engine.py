"""The ``ray`` engine's server path against a plain Ray-actor parameter server, and ``local`` beside.

Updates/s for 10^5, 10^6 and 10^7 float32 parameters, p = 1, 2, 4 learners, dense and top-1%
pushes, all in one run and one Ray instance on loopback:

* **ray engine**: the whole engine (``RayEngine().run``: learner actors, shard actors, the fused
  push-and-pull call, core validation, decode and rule, record logs drained by the driver into a
  recorder) with learners whose gradient is made once, so no model compute is timed; S = 1.
* **plain Ray actor** (``benchmarks.ray_baseline``): each learner calls ``apply_gradients`` (or
  ``apply_sparse``) on one server actor and gets the weights back.
* **S = 2 against S = 1** at 10^7: the engine again, with learners that load what they pulled
  into their model, as a learner that computes must: with one shard that is a copy of the reply
  buffer, with several the shards' slices are copied into the model's buffer on arrival and the
  load is free. (The plain comparison above lets S = 1 skip that copy, as the baseline does.)
  The two run in pairs (``SHARD_PAIRS`` a repeat), in alternating order (a Ray instance gets
  faster over its first runs, which would favour whichever comes second), and ``s2_vs_s1`` is the
  geometric mean of the pairs' ratios, with its 95% interval (``s2_vs_s1_95``).
* **local**: the ``local`` engine's server path (``benchmarks.ps_roundtrip``), p learner processes,
  after that benchmark's own warm-up.
* **copy_ms_1e7**: a copy of 10^7 float32 values on one thread and in halves on two, the most
  that two shards working at once can gain on this machine's memory at 10^7.

For the S = 1 engine runs the JSON also keeps the engine's own time breakdown (``ray_phase_us``:
µs per push of each phase, medians over repeats), which says where the engine's time goes
beyond the Ray call (``push``): the shard's core ``apply``, the learner's ``pull`` bookkeeping.

Both Ray sides leave out their first ``WARMUP`` seconds (worker processes still starting, first
transfers) and measure ``SECONDS``; the cases are repeated ``REPEATS`` times, each repeat running
every column of a case one after the other, and the medians are reported.

Targets: the ray engine at least as fast as the plain Ray actor (the core adds no measurable
overhead), and S = 2 faster than S = 1 at 10^7.

``RAY_BENCH_SIZES`` and ``RAY_BENCH_LEARNERS`` re-run some cases (the result is then
``ray_engine.subset.json``), ``RAY_BENCH_REPEATS`` and ``RAY_BENCH_SECONDS`` change the
measurement, ``BENCH_MACHINE=<name>`` keeps the result of another machine apart; what is measured
so far is flushed to a ``.partial.json`` beside the result after every case.

    python -m benchmarks.ray_engine
"""

from __future__ import annotations

import functools
import os
import statistics
import threading
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.core.learner import Learner
from asyncsgd.data import load_dataset
from asyncsgd.metrics import Recorder
from asyncsgd.vocabulary.flat import FlatModel
from asyncsgd.vocabulary.messages import Payload, Push
from asyncsgd.vocabulary.reporting import PHASES
from benchmarks.common import Samples, chosen, interval, write_result
from benchmarks.ps_roundtrip import ours as local_rate
from benchmarks.ray_baseline import LR, baseline_rate, ray_session

ALL_SIZES, ALL_LEARNERS = (10**5, 10**6, 10**7), (1, 2, 4)
SIZES = chosen("RAY_BENCH_SIZES", ALL_SIZES)
LEARNERS = chosen("RAY_BENCH_LEARNERS", ALL_LEARNERS)
SUBSET = (SIZES, LEARNERS) != (ALL_SIZES, ALL_LEARNERS)  # results kept apart from the whole table
PAYLOADS = ("dense", "top1%")
SHARDED = 10**7  # where S = 2 is measured beside S = 1
REPEATS = int(os.environ.get("RAY_BENCH_REPEATS", 2))
SECONDS = float(os.environ.get("RAY_BENCH_SECONDS", 3.0))  # measured time per run
SHARD_PAIRS = 2  # pairs of S = 1 and S = 2 runs per repeat
WARMUP = 2.0  # seconds left out at the start of every Ray measurement, engine and baseline
CODECS = {"dense": {"codec": "identity"}, "top1%": {"codec": "topk", "ratio": 0.01}}


class Vector(nn.Module):
    """A model that is only its parameter vector (nothing is computed on it here)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.x = nn.Parameter(torch.zeros(size))


class PreparedLearner(Learner):
    """Pushes the same payload every cycle, stamped with the version it pulled; with a ``model``
    it also loads what it pulled into that model, as a learner about to compute would."""

    post_steps = 0  # no local step: no batch is gathered

    def __init__(self, learner_id: int, payload: Payload, model: FlatModel | None = None) -> None:
        self.id, self.payload, self.model, self.pushes, self._version = learner_id, payload, model, 0, 0

    def receive(self, params: torch.Tensor, version: int) -> None:
        self._version = version
        if self.model is not None:
            self.model.load(params)

    def local_step(self, batch: Any) -> float:
        return 0.0

    def push(self) -> Push:
        self.pushes += 1
        return Push(self.id, self._version, self.payload)

    def state_dict(self) -> dict[str, Any]:
        return {"pushes": self.pushes}


def prepared(job: Job, i: int, flat: FlatModel, load: bool = False) -> Learner:
    grad = torch.from_numpy(np.random.default_rng(i).standard_normal(flat.size).astype(np.float32))
    return PreparedLearner(i, job.codec(flat.layout).encode(grad, 0), flat if load else None)


def make_job(size: int, p: int, shards: int, payload: str) -> Job:
    cfg = RunConfig.from_dict({
        "engine": "ray", "dataset": "synthetic", "model": "logreg", "learners": p, "shards": shards,
        "batch_size": 1, "updates": 10**9, "eval_every": 10**9, "lr": LR, **CODECS[payload],
    })  # fmt: skip
    return Job(cfg, load_dataset("synthetic"), functools.partial(Vector, size), name="bench")


class Timed(Recorder):
    """A recorder (no files) that stops the run after ``WARMUP + SECONDS`` of engine time."""

    def __init__(self, job: Job) -> None:
        super().__init__(None, job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
        self.ends: list[float] = []

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if record.applied:
            self.ends.append(timing.end)

    def stop_requested(self) -> bool:
        return bool(self.ends) and self.ends[-1] >= WARMUP + SECONDS

    def rate(self) -> float:
        ends = sorted(e for e in self.ends if e >= WARMUP)
        return (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else 0.0

    def phase_us(self) -> dict[str, float]:
        """Microseconds per push of each phase the engine timed (all learners, the whole run)."""
        pushes = max(self.pushes, 1)
        return {k: 1e6 * sum(t[k] for t in self.phase_totals.values()) / pushes for k in PHASES}


def engine_run(size: int, p: int, shards: int, payload: str, load: bool = False) -> Timed:
    from asyncsgd.engines.ray import RayEngine

    job = make_job(size, p, shards, payload)
    recorder = Timed(job)
    RayEngine(learner_factory=functools.partial(prepared, load=load)).run(job, recorder)
    recorder.close()
    return recorder


def engine_rate(size: int, p: int, shards: int, payload: str, load: bool = False) -> float:
    return engine_run(size, p, shards, payload, load).rate()


def copy_ms(size: int = SHARDED, repeats: int = 20) -> dict[str, float]:
    """Milliseconds to copy ``size`` float32 values on one thread, and split in halves over two
    (numpy releases the GIL while it copies): what two shards copying their halves at once can
    gain over one on this machine's memory, at best."""
    src = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    dst = np.empty_like(src)
    half = size // 2

    def one() -> None:
        np.copyto(dst, src)

    def two() -> None:
        other = threading.Thread(target=np.copyto, args=(dst[:half], src[:half]))
        other.start()
        np.copyto(dst[half:], src[half:])
        other.join()

    out = {}
    for name, copy in (("one_thread", one), ("two_threads", two)):
        copy()
        start = time.perf_counter()
        for _ in range(repeats):
            copy()
        out[name] = 1e3 * (time.perf_counter() - start) / repeats
    return out


KEYS = ("ray", "baseline", "local", "ray_s1_load", "ray_s2_load")


def summary(samples: Samples, phases: dict[tuple, list[dict[str, float]]], load: float, copies: dict) -> dict:
    """The result of the repeats measured so far: a row per case measured at least once, and
    whether the targets are met once every case has all of its repeats."""
    rows = []
    for (n, p, payload), got in samples.items():
        if not got["ray"]:
            continue
        med = {k: statistics.median(v) if v else None for k, v in got.items()}
        row: dict[str, Any] = {
            "parameters": n, "learners": p, "payload": payload, "ray_per_s": med["ray"],
            "baseline_per_s": med["baseline"], "local_per_s": med["local"],
            "vs_baseline": med["ray"] / med["baseline"], "repeats": len(got["ray"]),
        }  # fmt: skip
        if med["ray_s2_load"] is not None:
            row["ray_s1_load_per_s"] = med["ray_s1_load"]
            row["ray_s2_load_per_s"] = med["ray_s2_load"]
            pairs = zip(got["ray_s2_load"], got["ray_s1_load"], strict=True)
            ratio, low, high = interval([s2 / s1 for s2, s1 in pairs])
            row["s2_vs_s1"], row["s2_vs_s1_95"] = ratio, [low, high]
        row["spread"] = {k: [min(v), max(v)] for k, v in got.items() if v}
        row["ray_phase_us"] = {k: statistics.median(r[k] for r in phases[(n, p, payload)]) for k in PHASES}
        rows.append(row)
    complete = len(rows) == len(samples) and all(r["repeats"] == REPEATS for r in rows)
    result: dict[str, Any] = {
        "target": "ray engine ≥ the plain Ray-actor parameter server in every case; S = 2 faster than S = 1 "
        "at 10^7",
        "complete": complete,
        "repeats": REPEATS,
        "shard_pairs": REPEATS * SHARD_PAIRS,
        "seconds": SECONDS,
        "warmup": WARMUP,
        "load_average": [load, os.getloadavg()[0]],
        "copy_ms_1e7": copies,
        "rows": rows,
    }
    if complete:
        result["met"] = {"at_least_baseline": all(r["vs_baseline"] >= 1.0 for r in rows)}
        sharded = [r["s2_vs_s1"] for r in rows if "s2_vs_s1" in r]
        if sharded:  # RAY_BENCH_SIZES may leave 10^7 out
            result["met"]["s2_faster_1e7"] = all(ratio > 1.0 for ratio in sharded)
    return result


def main() -> dict:
    cases = [(n, p, pl) for n in SIZES for p in LEARNERS for pl in PAYLOADS]
    samples: Samples = {c: {k: [] for k in KEYS} for c in cases}
    phases: dict[tuple, list[dict[str, float]]] = {c: [] for c in cases}
    load = os.getloadavg()[0]
    copies = copy_ms()
    with ray_session(max(LEARNERS) + 2) as ray:
        for _ in range(REPEATS):  # each case's columns one after another: drift hits them alike
            for case in cases:
                n, p, payload = case
                got = samples[case]
                got["local"].append(local_rate(*case))
                got["baseline"].append(baseline_rate(ray, *case, SECONDS, WARMUP))
                run = engine_run(n, p, 1, payload)
                got["ray"].append(run.rate())
                phases[case].append(run.phase_us())
                for _ in range(SHARD_PAIRS if n == SHARDED else 0):  # alternating which goes first
                    for s in (1, 2) if len(got["ray_s1_load"]) % 2 == 0 else (2, 1):
                        got[f"ray_s{s}_load"].append(engine_rate(n, p, s, payload, load=True))
                shown = "  ".join(f"{k} {v[-1]:8.1f}/s" for k, v in got.items() if v)
                print(f"n={n:>9,} p={p} {payload:6s} {shown}", flush=True)
                so_far = summary(samples, phases, load, copies)
                write_result("ray_engine", so_far, partial=True, subset=SUBSET)
    result = summary(samples, phases, load, copies)
    write_result("ray_engine", result, subset=SUBSET)
    return result


if __name__ == "__main__":
    main()
