"""Simulator overhead: a plain PyTorch training loop vs the same updates through ``sim`` (p = 8,
dense Downpour, trace written to disk), same model, data, batch size and number of updates.

    python -m benchmarks.sim_overhead
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import Dataset, load_dataset
from asyncsgd.metrics import Recorder
from benchmarks.common import write_result

UPDATES = 1500
REPEATS = 5
CASES = (("lenet", "mnist5k", 32), ("mlp", "mnist5k", 32), ("mlp", "mnist5k", 128))


def case_job(model: str, batch: int, data: Dataset) -> Job:
    """One case: p = 8 dense Downpour learners on ``data``, :data:`UPDATES` updates at γ = 0.05, on
    the serial simulator (``benchmarks.sim_parallel`` times its gradient workers)."""
    cfg = {"model": model, "dataset": data.name, "batch_size": batch, "learners": 8, "updates": UPDATES}
    cfg["sim_workers"] = 1
    return Job.from_config(RunConfig.from_dict({**cfg, "lr": 0.05}), dataset=data)


def plain_loop(job: Job) -> float:
    """What a user writes without asyncsgd: torch.optim.SGD over shuffled mini-batches."""
    model = job.model_factory()
    opt = torch.optim.SGD(model.parameters(), lr=job.config.lr)
    ds, b = job.dataset, job.config.batch_size
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    order = torch.randperm(ds.n_train, generator=gen)
    pos = 0
    for _ in range(UPDATES):
        if pos + b > ds.n_train:
            order, pos = torch.randperm(ds.n_train, generator=gen), 0
        idx = order[pos : pos + b]
        pos += b
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx]).backward()
        opt.step()
    return time.perf_counter() - start


def simulated(job: Job) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(Path(tmp), job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
        start = time.perf_counter()
        ENGINES.get("sim")().run(job, recorder)
        recorder.close()
        return time.perf_counter() - start


def main() -> dict:
    rows = []
    load_before = os.getloadavg()[0]  # a busy machine slows both loops, but not alike
    data = load_dataset("mnist5k")
    for model, dataset, batch in CASES:
        job = case_job(model, batch, data)
        plain, sim = [], []
        for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits both alike
            plain.append(plain_loop(job))
            sim.append(simulated(job))
        a, b = statistics.median(plain), statistics.median(sim)
        params = job.flat_model().size
        row = {
            "model": model,
            "parameters": params,
            "dataset": dataset,
            "batch_size": batch,
            "updates": UPDATES,
            "plain_s": a,
            "sim_s": b,
            "ratio": b / a,
            "plain_us_per_update": 1e6 * a / UPDATES,
            "overhead_us_per_update": 1e6 * (b - a) / UPDATES,
        }
        rows.append(row)
        print(
            f"{model:6s} d={params:>7,} B={batch:<4d} plain {a:6.2f}s  sim(p=8) {b:6.2f}s  "
            f"ratio {b / a:.3f}  overhead {row['overhead_us_per_update']:.0f} µs/update"
        )
    load = {"before": load_before, "after": os.getloadavg()[0]}
    print(f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f}")
    result = {"target": "(b) sim / (a) plain <= 1.05 in wall time", "load_average": load, "rows": rows}
    write_result("sim_overhead", result)
    return result


if __name__ == "__main__":
    main()
