"""Training throughput of the ``local`` engine: samples/s with p = 1, 2, 4, 8 learner processes
(one torch thread each) on a small CNN (LeNet, MNIST, batch 32), and in Hogwild mode with p = 2, 4,
next to a plain single-process PyTorch loop using both cores, in one run. Engine samples/s count
the learners' time from the start signal to the last applied push (process start-up excluded;
evaluation off).

    python -m benchmarks.local_throughput
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import load_dataset
from asyncsgd.metrics import Recorder
from benchmarks.common import write_result

LEARNERS = (1, 2, 4, 8)
HOGWILD = (2, 4)  # lock-free mode beside the server mode
UPDATES = int(os.environ.get("TP_UPDATES", 600))
REPEATS = int(os.environ.get("TP_REPEATS", 3))
BATCH = 32


def job_for(p: int, data, hogwild: bool = False) -> Job:
    cfg = RunConfig.from_dict(
        {"engine": "local", "model": "lenet", "dataset": "mnist5k", "learners": p, "batch_size": BATCH,
         "updates": UPDATES, "lr": 0.05, "hogwild": hogwild}
    )  # fmt: skip
    return Job.from_config(cfg, dataset=data)


def plain_loop(job: Job) -> float:
    """torch.optim.SGD over shuffled batches, torch using every core; samples/s."""
    torch.set_num_threads(os.cpu_count() or 1)
    model = job.model_factory()
    opt = torch.optim.SGD(model.parameters(), lr=job.config.lr)
    ds = job.dataset
    gen = torch.Generator().manual_seed(0)
    order, pos = torch.randperm(ds.n_train, generator=gen), 0
    start = time.perf_counter()
    for _ in range(UPDATES):
        if pos + BATCH > ds.n_train:
            order, pos = torch.randperm(ds.n_train, generator=gen), 0
        idx = order[pos : pos + BATCH]
        pos += BATCH
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx]).backward()
        opt.step()
    return UPDATES * BATCH / (time.perf_counter() - start)


def engine_samples_per_s(job: Job) -> float:
    """samples/s of a run of ``job``'s engine, from its start signal to its last applied push."""
    recorder = Recorder(None, job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
    result = ENGINES.get(job.config.engine)().run(job, recorder)
    recorder.close()
    return recorder.samples / result.time


def main() -> dict:
    data = load_dataset("mnist5k")
    cases = [(p, False) for p in LEARNERS] + [(p, True) for p in HOGWILD]
    jobs = {(p, hog): job_for(p, data, hog) for p, hog in cases}
    plain: list[float] = []
    ours: dict[tuple[int, bool], list[float]] = {case: [] for case in cases}
    load = os.getloadavg()[0]
    for _ in range(REPEATS):  # interleaved
        plain.append(plain_loop(jobs[1, False]))
        for case in cases:
            ours[case].append(engine_samples_per_s(jobs[case]))
    base = statistics.median(plain)
    rows = []
    for p, hogwild in cases:
        rate = statistics.median(ours[p, hogwild])
        mode = "hogwild" if hogwild else "server"
        rows.append({"learners": p, "mode": mode, "samples_per_s": rate, "vs_plain": rate / base})
        print(f"p={p} {mode}: {rate:8.0f} samples/s  ×{rate / base:.2f} of the plain loop ({base:.0f}/s)")
    result = {
        "load_average": [load, os.getloadavg()[0]],
        "target": "local with p = 2 at least as fast as the plain loop on both cores",
        "met": rows[1]["vs_plain"] >= 1.0,
        "model": "lenet", "dataset": "mnist5k", "batch_size": BATCH, "updates": UPDATES,
        "plain_samples_per_s": base, "plain_threads": os.cpu_count(), "rows": rows,
    }  # fmt: skip
    write_result("local_throughput", result)
    return result


if __name__ == "__main__":
    main()
