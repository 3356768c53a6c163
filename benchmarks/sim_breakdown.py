"""Where the simulator's time per update goes, part by part, beside the plain loop's parts.

The cases of ``benchmarks.sim_overhead`` (p = 8 dense Downpour, trace written to disk, evaluation
off). Each part of a ``sim`` run is timed by a ``time.perf_counter`` wrapper put around the
function named for the run and taken off after it (exclusive time: a part called inside another
is not counted twice); the plain loop is timed line by line. Medians over ``--repeats`` runs, µs
per update. The wrappers cost about a microsecond per call, so the instrumented totals run a few
µs above ``benchmarks.sim_overhead``'s, which times the same runs bare.

    python -m benchmarks.sim_breakdown [--case mlp32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.codecs.memory import ErrorFeedback, Memoryless
from asyncsgd.core.server import ParameterServer
from asyncsgd.data import load_dataset
from asyncsgd.metrics import Recorder
from asyncsgd.rules.base import ServerRule
from asyncsgd.vocabulary.flat import FlatModel
from benchmarks.common import write_result
from benchmarks.sim_overhead import CASES as OVERHEAD_CASES
from benchmarks.sim_overhead import UPDATES, case_job

CASES = {f"{model}{batch}": (model, batch) for model, _, batch in OVERHEAD_CASES}
now = time.perf_counter

SIM_PARTS = (
    ("backward", torch.autograd, "backward"),
    ("forward and loss", FlatModel, "gradient"),
    ("batch", Job, "batch"),
    ("gradient into its payload", Memoryless, "encode"),
    ("gradient into its payload", ErrorFeedback, "encode"),
    ("validation", ParameterServer, "validate"),
    ("norm (finiteness, grad_norm)", ParameterServer, "_decode_checked"),
    ("rule (SGD step)", ServerRule, "apply"),
    ("server, rest", ParameterServer, "apply"),
    ("recorder", Recorder, "on_push"),
)
"""Part, and a function whose exclusive time it is. ``FlatModel.gradient`` less the backward pass is
the forward pass, the loss, zeroing the gradient buffer and reading the loss."""


class Clock:
    """Exclusive seconds per part: a part's time less that of the parts it calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner = [0.0]

    def wrap(self, part: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self._inner.append(0.0)
            start = now()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = now() - start
                inner = self._inner.pop()
                self.seconds[part] = self.seconds.get(part, 0.0) + spent - inner
                self._inner[-1] += spent

        return timed


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Wrap every part of :data:`SIM_PARTS` for the duration, then put the originals back."""
    saved = []
    for part, owner, attr in SIM_PARTS:
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        saved.append((owner, attr, original))
        setattr(owner, attr, clock.wrap(part, getattr(owner, attr)))
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def sim_parts(job: Job) -> dict[str, float]:
    """One instrumented ``sim`` run: seconds per part, ``event loop and rest`` what no part covers."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp, instrumented(clock):
        recorder = Recorder(Path(tmp), job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
        start = now()
        ENGINES.get("sim")().run(job, recorder)
        recorder.close()
        total = now() - start
    parts = dict(clock.seconds)
    parts["event loop and rest"] = total - sum(parts.values())
    parts["total"] = total
    return parts


def plain_parts(job: Job) -> dict[str, float]:
    """``benchmarks.sim_overhead.plain_loop``, timed line by line."""
    model = job.model_factory()
    opt = torch.optim.SGD(model.parameters(), lr=job.config.lr)
    ds, b = job.dataset, job.config.batch_size
    gen = torch.Generator().manual_seed(0)
    t = dict.fromkeys(("batch", "forward and loss", "backward", "optimizer step"), 0.0)
    start = now()
    order = torch.randperm(ds.n_train, generator=gen)
    pos = 0
    for _ in range(job.config.updates):
        t0 = now()
        if pos + b > ds.n_train:
            order, pos = torch.randperm(ds.n_train, generator=gen), 0
        idx = order[pos : pos + b]
        pos += b
        xb, yb = ds.x_train[idx], ds.y_train[idx]
        t1 = now()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        t2 = now()
        loss.backward()
        t3 = now()
        opt.step()
        t4 = now()
        t["batch"] += t1 - t0
        t["forward and loss"] += t2 - t1
        t["backward"] += t3 - t2
        t["optimizer step"] += t4 - t3
    t["total"] = now() - start
    t["event loop and rest"] = t["total"] - sum(v for k, v in t.items() if k != "total")
    return t


def medians_us(runs: list[dict[str, float]], updates: int) -> dict[str, float]:
    """Each part's median over ``runs``, in µs per update."""
    return {k: 1e6 * statistics.median(r.get(k, 0.0) for r in runs) / updates for k in runs[0]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="default: all three")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        result = measure(args.case or list(CASES), args.repeats)
    finally:
        torch.set_num_threads(threads)
    write_result("sim_breakdown", result, subset=bool(args.case))
    return result


def measure(cases: list[str], repeats: int) -> dict:
    data = load_dataset("mnist5k")
    load_before = os.getloadavg()[0]
    rows = []
    for name in cases:
        model, batch = CASES[name]
        job = case_job(model, batch, data)
        plain, sim = [], []
        for _ in range(repeats):  # interleaved, so drift hits both alike
            plain.append(plain_parts(job))
            sim.append(sim_parts(job))
        row = {"model": model, "batch_size": batch, "updates": UPDATES}
        row["plain_us"], row["sim_us"] = medians_us(plain, UPDATES), medians_us(sim, UPDATES)
        rows.append(row)
        print(f"{model} batch {batch}: µs per update, medians of {repeats}")
        for side in ("plain_us", "sim_us"):
            parts = "  ".join(f"{k} {v:.0f}" for k, v in row[side].items())
            print(f"  {side[:-3]:5s} {parts}")
    load = {"before": load_before, "after": os.getloadavg()[0]}
    print(f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f}")
    return {"torch_threads": torch.get_num_threads(), "load_average": load, "rows": rows}


if __name__ == "__main__":
    main()
