"""``asyncsgd theory lr`` on the default experiment: wall time of the real command in a fresh
process (imports, dataset, model, probe), with the Hessian-vector products and mini-batches it
used, and beside it the unit costs it is made of, measured in the same run.

    python -m benchmarks.theory_lr

The LeNet run's JSON output is kept in the results: docs/theory.md's worked example is rendered
from it (``python -m benchmarks.report --write``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from asyncsgd.config import load_experiment
from asyncsgd.experiment.runner import prepare_jobs
from asyncsgd.theory.objective import hessian_vector_product, per_sample_gradients
from benchmarks.common import median_time, write_result

TARGET_S = 60.0
REPEATS = 3
CASES = (("lenet", []), ("mlp", ["--set", "model=mlp"]))  # the default experiment; the default model


def cli(extra: list[str]) -> tuple[float, dict]:
    """Seconds and JSON document of one ``asyncsgd theory lr --json`` in a fresh process."""
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", "theory", "lr", "--json", *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, json.loads(out)


def unit_costs(extra: list[str]) -> dict[str, float]:
    """Milliseconds of one of each operation the probe repeats, at the initial point."""
    job = prepare_jobs(load_experiment(None, [extra[1]] if extra else [], only=["downpour"]))[0]
    flat, data = job.flat_model(), job.dataset
    x = flat.params.clone()
    rng = np.random.default_rng(0)
    subset = torch.from_numpy(np.sort(rng.choice(data.n_train, job.config.theory_samples, replace=False)))
    sx, sy = data.x_train[subset], data.y_train[subset]
    batch = torch.from_numpy(rng.choice(data.n_train, job.config.batch_size, replace=False))
    bx, by = data.x_train[batch], data.y_train[batch]
    v = torch.randn(flat.size, generator=torch.Generator().manual_seed(0))
    return {
        "hvp_ms": 1e3 * median_time(lambda: hessian_vector_product(flat, x, sx, sy, v), repeats=5),
        "minibatch_gradient_ms": 1e3 * median_time(lambda: flat.gradient(x, bx, by), repeats=21),
        "per_sample_batch_ms": 1e3
        * median_time(lambda: list(per_sample_gradients(flat, x, bx, by)), repeats=11),
    }


def main() -> dict:
    times: dict[str, list[float]] = {name: [] for name, _ in CASES}
    documents: dict[str, dict] = {}
    for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits every case alike
        for name, extra in CASES:
            seconds, doc = cli(extra)
            times[name].append(seconds)
            documents.setdefault(name, doc)
    rows = []
    for name, extra in CASES:
        doc = documents[name]
        est = doc["estimates"][0]
        cost, settings = est["cost"], est["settings"]
        row = {
            "model": name,
            "dataset": est["title"].split(" on ")[-1],
            "parameters": est["parameters"],
            "points": settings["points"],
            "hessian_samples": min(settings["samples"] or est["n_train"], est["n_train"]),
            **cost,
            "wall_s": statistics.median(times[name]),
            "wall_s_all": times[name],
            **unit_costs(extra),
        }
        rows.append(row)
        print(
            f"{name:6s} d={row['parameters']:>7,}  {row['wall_s']:5.1f} s (median of {REPEATS})  "
            f"{cost['hessian_vector_products']} HVPs ({row['hvp_ms']:.0f} ms each), "
            f"{cost['minibatch_gradients']} mini-batch gradients, {cost['per_sample_gradients']} per-sample"
        )
    result = {
        "target": f"asyncsgd theory lr on the default dataset and model in under {TARGET_S:.0f} s on 2 cores",
        "rows": rows,
        "document": documents["lenet"],
    }
    write_result("theory_lr", result)
    return result


if __name__ == "__main__":
    main()
