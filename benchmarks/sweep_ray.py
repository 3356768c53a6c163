"""A 48-run sweep on a two-node Ray cluster on loopback (``asyncsgd sweep --ray``) against the
local worker pool, the same sweep, side by side in one run.

The runs are tiny on purpose (the simulator, an MLP with one hidden layer of 16 on the synthetic
task, 2 learners, 200 updates, seeds 0 to 47), so the figure is the per-run cost of each way of
running a sweep: the local pool's worker processes (one per core) against Ray tasks reserving one
CPU each on two nodes of ``tests.raycluster.NODE_CPUS`` logical CPUs (more slots than this
machine's cores: Ray's reservations are logical). Both write a fresh results database; the Ray
side joins the already started cluster (its start is not timed) and includes joining it and its
worker processes' start. The two must record the same ``params_sha256`` for every run.

    python -m benchmarks.sweep_ray
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from asyncsgd.sweep import ResultsDB, build_sweep, run_sweep
from asyncsgd.sweep.runner import available_cores
from benchmarks.common import write_result

RUNS = 48
SWEEP = {
    "name": "bench-ray",
    "dataset": "synthetic",
    "model": "mlp",
    "hidden": [16],
    "learners": 2,
    "updates": 200,
    "grid": {"seed": list(range(RUNS))},
}


def hashes(db: Path) -> dict[str, str]:
    with ResultsDB(db, create=False) as read:
        members = read.members(SWEEP["name"])
    return {m.run_id: m.summary["params_sha256"] if m.status == "done" else m.status for m in members}


def timed(db: Path, **how: object) -> tuple[float, int]:
    sweep = build_sweep(SWEEP)
    start = time.perf_counter()
    with ResultsDB(db) as results:
        progress = run_sweep(sweep, results, **how)  # type: ignore[arg-type]
    assert progress.finished["done"] == RUNS, progress.finished
    return time.perf_counter() - start, progress.workers


def main() -> None:
    from tests.raycluster import loopback_cluster

    with tempfile.TemporaryDirectory(prefix="asyncsgd-bench-") as tmp:
        folder = Path(tmp)
        local_s, local_workers = timed(folder / "local.db")
        print(f"local pool: {RUNS} runs in {local_s:.1f} s on {local_workers} workers", flush=True)
        (folder / "cluster").mkdir()
        cluster = loopback_cluster(folder / "cluster")
        address = next(cluster).address
        try:
            ray_s, slots = timed(folder / "ray.db", ray=address)
        finally:
            next(cluster, None)
        print(f"ray cluster: {RUNS} runs in {ray_s:.1f} s, {slots} tasks at a time", flush=True)
        same = hashes(folder / "local.db") == hashes(folder / "ray.db")
    print(f"ray / local wall time {ray_s / local_s:.2f}; same params_sha256 for every run: {same}")
    payload = {"runs": RUNS, "sweep": SWEEP, "cores": available_cores(), "local_s": local_s,
               "local_workers": local_workers, "ray_s": ray_s, "ray_slots": slots,
               "local_runs_per_s": RUNS / local_s, "ray_runs_per_s": RUNS / ray_s,
               "ray_vs_local": ray_s / local_s, "same_results": same}  # fmt: skip
    print(write_result("sweep_ray", payload))


if __name__ == "__main__":
    main()
