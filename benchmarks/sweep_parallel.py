"""Sweep throughput: the same runs one after another in this process, then as a sweep on 1 and on
2 worker processes (results database written), and, as the control for what the machine gives two
processes, two plain Python processes each running half of the runs; side by side and interleaved.

    python -m benchmarks.sweep_parallel
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from asyncsgd.assembly.job import Job
from asyncsgd.experiment.runner import run_job
from asyncsgd.sweep import ResultsDB, build_sweep, run_sweep
from benchmarks.common import write_result

REPEATS = 3
SWEEP = {
    "name": "bench",
    "dataset": "mnist5k",
    "model": "mlp",
    "hidden": [128],
    "learners": 4,
    "updates": 1500,
    "grid": {"seed": list(range(8))},
}


def in_process() -> float:
    """What a user writes without sweeps: a loop over the runs in one single-threaded process."""
    sweep = build_sweep(SWEEP)
    start = time.perf_counter()
    for run in sweep.runs:
        run_job(Job.from_config(run.config, name=run.method), None)
    return time.perf_counter() - start


def run_share(index: int, shares: int) -> None:
    """Run every ``shares``-th run of the sweep, starting at ``index`` (one process of the control)."""
    torch.set_num_threads(1)
    for run in build_sweep(SWEEP).runs[index::shares]:
        run_job(Job.from_config(run.config, name=run.method), None)


def plain_processes(n: int) -> float:
    """``n`` fresh processes side by side, each running its share of the runs: the machine's best."""
    code = f"from benchmarks.sweep_parallel import run_share; run_share({{}}, {n})"
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code.format(i)]) for i in range(n)]
    if any(p.wait() for p in procs):
        raise RuntimeError("a control process failed")
    return time.perf_counter() - start


def as_sweep(workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, ResultsDB(Path(tmp) / "bench.db") as db:
        start = time.perf_counter()
        progress = run_sweep(build_sweep(SWEEP), db, workers=workers)
        elapsed = time.perf_counter() - start
        assert progress.finished["done"] == len(SWEEP["grid"]["seed"])
        return elapsed


def main() -> dict:
    torch.set_num_threads(1)
    runs = len(SWEEP["grid"]["seed"])
    times: dict[str, list[float]] = {"in_process": [], "workers_1": [], "workers_2": [], "plain_2": []}
    load_before = os.getloadavg()[0]  # other work on the machine competes for the same cores
    for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits all three alike
        times["in_process"].append(in_process())
        times["workers_1"].append(as_sweep(1))
        times["workers_2"].append(as_sweep(2))
        times["plain_2"].append(plain_processes(2))
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {
        "runs": runs,
        "run_s": med["in_process"] / runs,
        "in_process_s": med["in_process"],
        "workers_1_s": med["workers_1"],
        "workers_2_s": med["workers_2"],
        "plain_2_s": med["plain_2"],
        "speedup_2_workers": med["in_process"] / med["workers_2"],
        "speedup_2_plain": med["in_process"] / med["plain_2"],
        "overhead_1_worker_s": med["workers_1"] - med["in_process"],
        "samples": times,
        "load_average": [load_before, os.getloadavg()[0]],
    }
    print(
        f"{runs} runs of {row['run_s']:.2f}s: in process {med['in_process']:.1f}s, sweep on 1 worker "
        f"{med['workers_1']:.1f}s, on 2 workers {med['workers_2']:.1f}s "
        f"(speed-up ×{row['speedup_2_workers']:.2f}); 2 plain processes {med['plain_2']:.1f}s "
        f"(×{row['speedup_2_plain']:.2f})"
    )
    result = {
        "target": "2 workers on 2 cores: close to ×2 over one process, and as fast as 2 plain processes",
        "rows": [row],
    }
    write_result("sweep_parallel", result)
    return result


if __name__ == "__main__":
    main()
