"""What a lent GPU machine (one GPU, 16 cores) measures, in one call of a few minutes. Where torch
sees no CUDA device it says so in one line and exits 2, writing nothing.

1. **The simulator on the GPU**: p = 16 learners, ResNet-20, CIFAR-shaped data (random 3×32×32
   images, 10 classes), batch 32, ``device = cuda``: the serial simulator (``sim_workers = 1``)
   against 2, 4 and 8 gradient workers, interleaved; every run's parameters must be bit-identical.
   Target: the fastest at least 5× the serial GPU simulator.
2. **The engines on the GPU**: a plain single-GPU PyTorch loop (``torch.optim.SGD``, same model,
   data and batch) against ``local`` with p = 4 and 8 learner processes sharing the GPU, and
   ``ray`` with p = 4 and 8 and ``ray_gpus_per_learner = 1/p`` where Ray is installed; samples/s,
   counted from the engines' start signal (process start-up excluded).
3. **What 16 cores show**: the CPU simulator with 1, 2, 4 and 8 gradient workers (LeNet and MLP,
   mnist5k, p = 8, batch 32), and ``benchmarks.local_shards`` (S = 2 against S = 1), shortened.

Every case is flushed to ``gpu.partial.json`` as it ends (``BENCH_MACHINE`` names the machine, as
for every benchmark), so a call stopped at its time limit keeps what it measured; ``--out DIR``
copies the results there too. ``--smoke`` runs every step on the CPU at toy sizes and writes only
to ``--out``: it is this script's test (tests/test_gpu_benchmark.py), not a measurement.

    PYTHONPATH=src:. BENCH_MACHINE=h100 python3 -m benchmarks.gpu --out "$OUT"
    python -m benchmarks.gpu --smoke --out /tmp/gpu-smoke
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import Dataset, load_dataset
from benchmarks.common import RESULTS, machine, write_result
from benchmarks.local_throughput import engine_samples_per_s
from benchmarks.sim_parallel import simulated

TARGET = 5.0
"""The fastest gradient workers against the serial GPU simulator (p = 16 ResNet-20)."""


@dataclass(frozen=True)
class Sizes:
    train: int = 4096
    sim_learners: int = 16
    sim_updates: int = 480
    sim_workers: tuple[int, ...] = (1, 2, 4, 8)
    engine_learners: tuple[int, ...] = (4, 8)
    engine_updates: int = 480
    cpu_models: tuple[str, ...] = ("lenet", "mlp")
    cpu_updates: int = 1000
    cpu_workers: tuple[int, ...] = (1, 2, 4, 8)
    repeats: int = 3
    shards: bool = True


SMOKE = Sizes(train=64, sim_learners=2, sim_updates=6, sim_workers=(1, 2), engine_learners=(2,),
              engine_updates=6, cpu_models=("mlp",), cpu_updates=8, cpu_workers=(1, 2), repeats=1,
              shards=False)  # fmt: skip


def cifar_shaped(n_train: int, seed: int = 0) -> Dataset:
    """Random 3×32×32 images with 10 random labels: CIFAR-10's shapes, for timing only."""
    rng = np.random.default_rng(seed)
    n_test = max(16, n_train // 16)
    x = rng.standard_normal((n_train + n_test, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, n_train + n_test)
    return Dataset.from_arrays(
        "cifar-shaped", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 10, "generated"
    )


def job(data: Dataset, model: str, **settings: Any) -> Job:
    cfg = {"model": model, "dataset": "synthetic", "batch_size": 32, "lr": 0.05, "eval_every": 0, **settings}
    return Job.from_config(RunConfig.from_dict(cfg), dataset=data)


def simulator(data: Dataset, model: str, device: str, learners: int, updates: int, workers: tuple[int, ...],
              repeats: int) -> dict[str, Any]:  # fmt: skip
    """Median wall seconds of ``sim`` per worker count, interleaved; one parameter digest for all."""
    jobs = {
        n: job(data, model, learners=learners, updates=updates, sim_workers=n, device=device) for n in workers
    }
    times: dict[int, list[float]] = {n: [] for n in workers}
    digests = set()
    for _ in range(repeats):
        for n, j in jobs.items():
            seconds, digest = simulated(j)
            times[n].append(seconds)
            digests.add(digest)
    if len(digests) != 1:
        raise SystemExit(
            f"sim {model} on {device}: {len(digests)} different parameter vectors across worker counts"
        )
    median = {n: statistics.median(v) for n, v in times.items()}
    serial = median[workers[0]]
    return {
        "model": model, "device": device, "learners": learners, "updates": updates,
        "seconds": {str(n): s for n, s in median.items()},
        "speedup": {str(n): serial / s for n, s in median.items()},
        "params_identical": True,
    }  # fmt: skip


def plain_loop(j: Job, device: str, updates: int) -> float:
    """samples/s of torch.optim.SGD over shuffled batches, the model and data on ``device``."""
    model = j.model_factory().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=j.config.lr)
    x, y = j.dataset.x_train.to(device), j.dataset.y_train.to(device)
    gen = torch.Generator().manual_seed(0)
    batch = j.config.batch_size
    order, pos = torch.randperm(len(y), generator=gen), 0

    def step() -> None:
        nonlocal order, pos
        if pos + batch > len(y):
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos : pos + batch].to(device)
        pos += batch
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()

    for _ in range(min(20, updates)):  # kernels chosen, memory pooled
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(updates):
        step()
    sync(device)
    return updates * batch / (time.perf_counter() - start)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def engines(data: Dataset, device: str, sizes: Sizes) -> dict[str, Any]:
    """The plain loop against ``local`` and (with Ray) ``ray``, p learners sharing the device."""
    base = {"learners": 1, "updates": sizes.engine_updates, "device": device}
    rows: dict[str, list[float]] = {"plain": []}
    cases: dict[str, Job] = {}
    has_ray = importlib.util.find_spec("ray") is not None
    gpus = device.startswith("cuda")
    for p in sizes.engine_learners:
        cases[f"local p={p}"] = job(data, "resnet20", **{**base, "engine": "local", "learners": p})
        if has_ray:
            share = {"ray_gpus_per_learner": 1.0 / p} if gpus else {}
            cases[f"ray p={p}"] = job(data, "resnet20", **{**base, "engine": "ray", "learners": p, **share})
    rows |= {name: [] for name in cases}
    plain_job = job(data, "resnet20", **base)
    for _ in range(sizes.repeats):
        rows["plain"].append(plain_loop(plain_job, device, sizes.engine_updates))
        for name, j in cases.items():
            rows[name].append(engine_samples_per_s(j))
    median = {name: statistics.median(v) for name, v in rows.items()}
    return {
        "model": "resnet20", "device": device, "updates": sizes.engine_updates, "ray_installed": has_ray,
        "samples_per_s": median, "vs_plain": {name: s / median["plain"] for name, s in median.items()},
    }  # fmt: skip


class Results:
    """The call's results so far: flushed after every case (``partial``) and at the end."""

    def __init__(self, out: Path | None, smoke: bool) -> None:
        self.out, self.smoke = out, smoke
        self.data: dict[str, Any] = {
            "target": f"sim p=16 resnet20 on cuda: fastest workers >= {TARGET}x serial"
        }
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def add(self, key: str, value: Any, done: bool = False) -> None:
        self.data[key] = value
        print(f"{key}: {json.dumps(value)}", flush=True)
        if self.out is not None:
            name = "gpu.json" if done else "gpu.partial.json"
            body = {"benchmark": "gpu", "machine": machine(), **self.data}
            (self.out / name).write_text(json.dumps(body, indent=2) + "\n")
            if done:
                (self.out / "gpu.partial.json").unlink(missing_ok=True)
        if not self.smoke:
            write_result("gpu", self.data, partial=not done)


def shards(out: Path | None) -> dict[str, Any]:
    """``benchmarks.local_shards``, shortened unless its own variables say otherwise."""
    os.environ.setdefault("LOCAL_SHARDS_PAIRS", "2")
    os.environ.setdefault("LOCAL_SHARDS_SECONDS", "1.0")
    from benchmarks import local_shards

    result = local_shards.main()
    tag = os.environ.get("BENCH_MACHINE", "").strip()
    written = RESULTS / f"local_shards{'.' + tag if tag else ''}.json"
    if out is not None and written.exists():
        shutil.copy(written, out / written.name)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every step on the CPU at toy sizes (a test)")
    parser.add_argument("--out", type=Path, help="also write the results into this folder")
    args = parser.parse_args(argv)
    if args.smoke and args.out is None:
        parser.error("--smoke writes only to --out: name a folder")
    if not args.smoke and not torch.cuda.is_available():
        print("benchmarks.gpu: torch sees no CUDA device here; nothing measured", file=sys.stderr)
        return 2
    sizes, device = (SMOKE, "cpu") if args.smoke else (Sizes(), "cuda")
    results = Results(args.out, args.smoke)
    results.add("load_average_before", os.getloadavg()[0])
    if device == "cuda":
        results.add("gpu", torch.cuda.get_device_name(0))
    images = cifar_shaped(sizes.train)
    results.add("sim_gpu", simulator(images, "resnet20", device, sizes.sim_learners, sizes.sim_updates,
                                     sizes.sim_workers, sizes.repeats))  # fmt: skip
    results.add("engines_gpu", engines(images, device, sizes))
    mnist = load_dataset("mnist5k")
    cpu = [
        simulator(mnist, m, "cpu", 8, sizes.cpu_updates, sizes.cpu_workers, sizes.repeats)
        for m in sizes.cpu_models
    ]
    results.add("sim_cpu", cpu)
    if sizes.shards:
        results.add("local_shards", shards(args.out))
    results.add("load_average_after", os.getloadavg()[0], done=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
