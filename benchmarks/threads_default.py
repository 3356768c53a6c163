"""The default of ``threads``: short ``asyncsgd run``-like runs of small models (simulator, p = 8,
evaluations included, nothing written) with one intra-op thread against torch's default (one per
core), side by side in one process, interleaved so that load on a shared machine hits both alike.

    python -m benchmarks.threads_default      # 1 to 3 minutes on 2 cores, by load

Writes ``results/threads_default.json``: per case the median wall seconds of each thread count
over REPEATS runs, and their ratio. ``threads = 0`` runs a model of at most
``ONE_THREAD_PARAMETERS`` parameters on one thread because of these numbers.
"""

from __future__ import annotations

import statistics
import time

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.experiment.runner import run_job
from benchmarks.common import write_result

REPEATS = 5
CASES = (  # model, dataset, updates, extra settings
    ("mlp", "digits", 100, {}),
    ("lenet", "mnist5k", 24, {"eval_every": 12}),
)


def timed(job: Job) -> float:
    start = time.perf_counter()
    run_job(job, None)
    return time.perf_counter() - start


def main() -> dict:
    default = torch.get_num_threads()  # torch's default: one per core
    counts = sorted({1, default})
    rows = []
    for model, dataset, updates, extra in CASES:
        base = {"model": model, "dataset": dataset, "learners": 8, "updates": updates, "lr": 0.05, **extra}
        jobs = {n: Job.from_config(RunConfig.from_dict({**base, "threads": n})) for n in counts}
        timed(jobs[counts[0]])  # warm-up: first-call costs of torch kernels
        got: dict[int, list[float]] = {n: [] for n in counts}
        for _ in range(REPEATS):
            for n in counts:
                got[n].append(timed(jobs[n]))
        medians = {n: statistics.median(v) for n, v in got.items()}
        row = {
            "model": model,
            "dataset": dataset,
            "parameters": jobs[1].flat_model("cpu").size,
            "updates": updates,
            "median_seconds": {str(n): round(s, 4) for n, s in medians.items()},
            "samples_seconds": {str(n): [round(s, 4) for s in v] for n, v in got.items()},
            "default_over_one": round(medians[default] / medians[1], 3),
        }
        rows.append(row)
        print(
            f"{model:>6} on {dataset:<8} {row['parameters']:>7,} parameters: 1 thread "
            f"{medians[1]:.3f} s, {default} threads (torch default) {medians[default]:.3f} s, "
            f"ratio {row['default_over_one']:.2f}"
        )
    payload = {
        "repeats": REPEATS,
        "torch_default_threads": default,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cases": rows,
    }
    print(write_result("threads_default", payload))
    return payload


if __name__ == "__main__":
    main()
