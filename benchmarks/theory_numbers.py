"""Every measured number docs/theory.md quotes outside its worked example, from the commands a
reader would run:

* the probe's variation: ``asyncsgd theory lr --methods downpour --json --set …`` for the run seed
  and the probe settings of :data:`PROBES`, each in a fresh process;
* the ReLU kink at the initial point of the default experiment: power iteration and the secant of
  a gradient step of shrinking length, on the probe's own Hessian subset, in float32 through
  :mod:`asyncsgd.theory.objective` and again in float64;
* running with the prediction: ``asyncsgd run --methods downpour`` at ``lr=auto`` and at the
  configured rate into a temporary directory, then ``asyncsgd theory bound --run DIR`` on the
  ``lr=auto`` run (text and ``--json``).

    python -m benchmarks.theory_numbers          # 15 commands: tens of minutes on a busy 2-core machine
    python -m benchmarks.report --write          # renders them into docs/theory.md
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from asyncsgd.assembly.auto_lr import probe_settings
from asyncsgd.config import load_experiment
from asyncsgd.experiment.runner import prepare_jobs
from asyncsgd.theory.curvature import power_iteration, secant
from asyncsgd.theory.objective import hessian_vector_product, loss_and_gradient
from asyncsgd.theory.probe import THEORY_STREAM
from benchmarks.common import write_result

METHOD = "downpour"
PROBES: tuple[tuple[str, ...], ...] = (
    ("seed=0",),
    ("seed=1",),
    ("seed=2",),
    ("seed=3",),
    ("theory_points=3",),
    ("theory_points=3", "seed=1"),
    ("theory_points=3", "seed=2"),
    ("theory_points=3", "theory_probe_lr=0.02"),
    ("theory_points=3", "theory_probe_lr=0.1"),
    ("theory_points=3", "theory_samples=0"),
)
"""``--set`` overrides of ``asyncsgd theory lr``; the first four vary only the run seed."""
KINK_ITERATIONS = 40
KINK_STEPS = (0.05, 0.005, 0.0005, 5e-5, 5e-6)
"""Step lengths ``h`` of the secant ``‖∇f(x − h∇f) − ∇f(x)‖ / ‖h∇f‖`` at the initial point."""
RUN_RATES = ("auto", "0.1")


def cli(*args: str) -> tuple[float, str]:
    """Seconds and standard output of one ``asyncsgd`` command in a fresh process."""
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", *args]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def probe_row(sets: tuple[str, ...]) -> dict[str, Any]:
    """One ``theory lr`` prediction with the estimates it follows from."""
    args = ["theory", "lr", "--methods", METHOD, "--json"] + [a for s in sets for a in ("--set", s)]
    seconds, out = cli(*args)
    doc = json.loads(out)
    est, method = doc["estimates"][0], doc["methods"][0]
    row = {
        "set": list(sets),
        "f_last": est["loss"][-1],
        "lipschitz_hessian_max": est["lipschitz_hessian"]["max"],
        "sigma2_max": est["sigma2_sample"]["max"],
        "lr": method["prediction"]["lr"],
        "seconds": seconds,
        "estimates": est,
        "prediction": method["prediction"],
    }
    print(f"theory lr --set {' '.join(sets):40s} lr {row['lr']:.4g}  ({seconds:.0f} s)", flush=True)
    return row


class _Float64:
    """The mean loss of the flat model's module on a sample set, in float64: its gradient and
    Hessian-vector products by double backward, to tell the kinks' jumps from float32 rounding."""

    def __init__(self, flat: Any, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.flat, self.inputs, self.targets = flat, inputs.double(), targets

    def _loss(self, x: torch.Tensor) -> torch.Tensor:
        params = self.flat.layout.views(x)
        return self.flat.loss_fn(functional_call(self.flat.module, params, (self.inputs,)), self.targets)

    def gradient(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(self._loss(x), x)[0]

    def hvp(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(self._loss(x), x, create_graph=True)
        return torch.autograd.grad(torch.dot(g, v.double()), x)[0]


def kink() -> dict[str, Any]:
    """Power iteration against the secant of shrinking gradient steps at the initial point, on the
    probe's Hessian subset and start vector (the same generator as ``theory lr``)."""
    job = prepare_jobs(load_experiment(None, [], only=[METHOD]))[0]
    settings = probe_settings(job.config)
    flat, data = job.flat_model("cpu"), job.dataset
    x = flat.params.clone()
    rng = np.random.Generator(np.random.PCG64([settings.seed, THEORY_STREAM]))
    size = min(settings.samples or data.n_train, data.n_train)
    subset = torch.from_numpy(np.sort(rng.choice(data.n_train, size=size, replace=False)))
    sx, sy = data.x_train.index_select(0, subset), data.y_train.index_select(0, subset)
    start = torch.from_numpy(rng.standard_normal(flat.size).astype(np.float32))

    def float32() -> dict[str, Any]:
        hvp = lambda v: hessian_vector_product(flat, x, sx, sy, v)  # noqa: E731
        eig = power_iteration(hvp, start, KINK_ITERATIONS, 0.0)
        _, g = loss_and_gradient(flat, x, sx, sy)
        steps = [secant(x, x - h * g, g, loss_and_gradient(flat, x - h * g, sx, sy)[1]) for h in KINK_STEPS]
        hg = hessian_vector_product(flat, x, sx, sy, g)
        return {"power": abs(eig.value), "residual": eig.residual, "secant": steps,
                "curvature_along_gradient": float(hg.norm() / g.norm())}  # fmt: skip

    found = {"float32": float32()}
    flat.module.double()  # from here on the module computes in float64 (its flat buffers are unused)
    f64 = _Float64(flat, sx, sy)
    x64 = x.double()
    eig = power_iteration(lambda v: f64.hvp(x64, v), start.double(), KINK_ITERATIONS, 0.0)
    g = f64.gradient(x64)
    found["float64"] = {
        "power": abs(eig.value),
        "residual": eig.residual,
        "secant": [secant(x64, x64 - h * g, g, f64.gradient(x64 - h * g)) for h in KINK_STEPS],
        "curvature_along_gradient": float(f64.hvp(x64, g).norm() / g.norm()),
    }
    print(f"kink: {json.dumps(found)}", flush=True)
    return {"seed": settings.seed, "samples": size, "iterations": KINK_ITERATIONS, "steps": list(KINK_STEPS),
            **found}  # fmt: skip


RUN_KEEPS = ("lr", "final_test_accuracy", "final_train_loss", "updates", "epochs", "learners", "batch_size",
             "params_sha256")  # fmt: skip


def run(rate: str, out: Path) -> dict[str, Any]:
    """The default experiment's Downpour at ``lr=rate``, into ``out``."""
    seconds, _ = cli("run", "--methods", METHOD, "--set", f"lr={rate}", "--out", str(out), "--quiet")
    s = json.loads((out / "summary.json").read_text())["methods"][METHOD]
    found = {k: s[k] for k in RUN_KEEPS} | {
        "staleness": {k: s["staleness"][k] for k in ("p50", "p95", "max")},
        "seconds": seconds,
    }
    print(f"run lr={rate}: {json.dumps(found)}", flush=True)
    return found


def bound(out: Path) -> dict[str, Any]:
    """``asyncsgd theory bound --run`` on a finished run (T: its largest τ), text and JSON."""
    _, text = cli("theory", "bound", "--run", str(out), "--method", METHOD)
    _, data = cli("theory", "bound", "--run", str(out), "--method", METHOD, "--json")
    return {"bound": json.loads(data)["methods"][METHOD], "bound_text": text.rstrip("\n")}


def runs() -> dict[str, Any]:
    """The runs at every rate of :data:`RUN_RATES`, and the bound of the ``lr=auto`` run (its
    measured staleness for T)."""
    with tempfile.TemporaryDirectory() as tmp:
        found = {rate: run(rate, Path(tmp) / f"lr-{rate}") for rate in RUN_RATES}
        return {"runs": found, **bound(Path(tmp) / "lr-auto")}


def main() -> dict[str, Any]:
    result: dict[str, Any] = {
        "target": "the measured numbers of docs/theory.md, each from a command a reader can run",
        "method": METHOD,
        "probes": [],
    }
    for sets in PROBES:  # what is measured so far is kept in theory_numbers.partial.json
        result["probes"].append(probe_row(sets))
        write_result("theory_numbers", result, partial=True)
    result["kink"] = kink()
    write_result("theory_numbers", result, partial=True)
    result.update(runs())
    write_result("theory_numbers", result)
    return result


if __name__ == "__main__":
    main()
