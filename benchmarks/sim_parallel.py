"""The simulator with gradient workers: serial (``sim_workers = 1``) against 2 workers and the
default (``sim_workers = 0``) side by side, interleaved, p = 8 learners, mnist5k, batch 32; the
parameters of every run must be bit-identical.

    python -m benchmarks.sim_parallel
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import load_dataset
from asyncsgd.engines.sim.workers import auto_workers
from asyncsgd.experiment.runner import threads_for, torch_threads
from asyncsgd.metrics import Recorder, params_sha256
from benchmarks.common import write_result

UPDATES = 1000
REPEATS = 5
MODELS = ("lenet", "mlp")
WORKERS = {"serial": 1, "workers=2": 2, "auto": 0}
TARGET = 0.6


def simulated(job: Job) -> tuple[float, str]:
    """Wall seconds of the run, as a run sets its threads, and its parameters' digest."""
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(Path(tmp), job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
        with torch_threads(threads_for(job.config.threads, job.layout().size)):
            start = time.perf_counter()
            result = ENGINES.get("sim")().run(job, recorder)
            seconds = time.perf_counter() - start
        recorder.close()
        return seconds, params_sha256(result.params)


def default_workers(job: Job) -> int:
    """The workers ``sim_workers = 0`` takes for ``job``, under the threads its run sets."""
    d = job.layout().size
    with torch_threads(threads_for(job.config.threads, d)):
        return auto_workers(job.config.sim_workers, job.config.learners, d)


def main() -> dict:
    rows = []
    load_before = os.getloadavg()[0]
    data = load_dataset("mnist5k")
    for model in MODELS:
        base = {"model": model, "dataset": "mnist5k", "batch_size": 32, "learners": 8, "updates": UPDATES}
        jobs = {
            name: Job.from_config(RunConfig.from_dict({**base, "sim_workers": n}), dataset=data)
            for name, n in WORKERS.items()
        }
        times: dict[str, list[float]] = {name: [] for name in jobs}
        digests: set[str] = set()
        for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits every way alike
            for name, job in jobs.items():
                seconds, digest = simulated(job)
                times[name].append(seconds)
                digests.add(digest)
        if len(digests) != 1:
            raise SystemExit(f"{model}: the worker counts gave {len(digests)} different parameter vectors")
        median = {name: statistics.median(v) for name, v in times.items()}
        d = jobs["serial"].layout().size
        row = {
            "model": model,
            "parameters": d,
            "updates": UPDATES,
            "auto_workers": default_workers(jobs["auto"]),
            **{f"{name}_s": s for name, s in median.items()},
            **{f"{name}_ratio": median[name] / median["serial"] for name in WORKERS if name != "serial"},
            "params_identical": True,
        }
        rows.append(row)
        print(
            f"{model:6s} d={d:>7,}  serial {median['serial']:6.2f}s  workers=2 {median['workers=2']:6.2f}s "
            f"(ratio {row['workers=2_ratio']:.3f})  auto={row['auto_workers']} {median['auto']:6.2f}s "
            f"(ratio {row['auto_ratio']:.3f})  params identical"
        )
    load = {"before": load_before, "after": os.getloadavg()[0]}
    print(f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f}")
    result = {
        "target": f"sim(p=8) with workers / serial <= {TARGET}, same bits",
        "load_average": load,
        "rows": rows,
    }
    write_result("sim_parallel", result)
    return result


if __name__ == "__main__":
    main()
