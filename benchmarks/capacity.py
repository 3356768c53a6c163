"""Capacity past this machine: per-push costs measured here, fed to the simulator's clock
(``asyncsgd.theory.capacity``), checked against the engines at p = 1, 2, 4, then extrapolated.

1. **Costs** (one thread, medians): the server's ``apply`` of one push at d = 10^5, 10^6, 10^7 (dense
   and top-k 1%), the push's serialisation to the Ray wire format and back (pickle protocol 5), a
   pull's copy of the parameters, the learner's encoding, and one forward and backward pass of an
   MLP of about d parameters (batch 32): the learner's compute.
2. **Validation**: ``local`` and ``ray`` at p = 1, 2, 4 (mnist5k, the default MLP, batch 32). Each
   run's own per-push phases feed the model: the pull and the apply occupy the server (a shard's
   lock in ``local``, the shard actor in ``ray``), compute, encoding and the push's transport occupy
   the learner. The model then predicts updates/s and mean τ ("fed"); a second prediction takes the
   p = 1 run's costs only, every cost stretched by max(1, p / cores) for the learners that share
   this machine's cores ("from p = 1"). Both are compared with the run's steady updates/s, over its
   middle half as the model's over its later half; the machine's busy cores and CPU per update over
   that half say how far the run shares this machine's cores. Errors are reported as they come.
3. **Prediction**: p = 16 … 1,024 learners, S = 1 … 64 shards, links of 10 and 100 Gbit/s, d = 10^6
   and 10^7, dense and top-k 1%, with the costs of part 1, a network latency of ``LATENCY`` per
   message, ``CALL_OVERHEAD`` per message at a shard, and every shard's link shared by the pushes
   and pulls it serves. Not modelled: contention among learners' links or in the switch,
   stragglers, failures.

    python -m benchmarks.capacity            # measure, predict, record, draw docs/capacity.png
    python -m benchmarks.capacity --predict  # predict again from the recorded costs and validation
    python -m benchmarks.capacity --figure   # redraw the figure from the recorded result
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from asyncsgd.assembly.engines import ENGINES as ENGINE_REGISTRY
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import Dataset, load_dataset
from asyncsgd.delays import DELAYS, DelaySampler
from asyncsgd.engines.ray.wire import from_wire, to_wire
from asyncsgd.metrics import Recorder
from asyncsgd.metrics.staleness import staleness_summary
from asyncsgd.models import build_model
from asyncsgd.plots.canvas import compact_png
from asyncsgd.plots.capacity import capacity_plot
from asyncsgd.theory.capacity import Cluster, predict
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Push
from asyncsgd.vocabulary.reporting import PHASES
from benchmarks.capacity_doc import saturation
from benchmarks.common import RESULTS, median_time, write_result
from benchmarks.ps_roundtrip import make_job

SIZES = (10**5, 10**6, 10**7)
PAYLOADS = ("dense", "top1%")
VALIDATE = (1, 2, 4)
ENGINES = ("local", "ray")
UPDATES = int(os.environ.get("CAPACITY_UPDATES", 1000))
LEARNERS = (16, 32, 64, 128, 256, 512, 1024)
SHARDS = (1, 2, 4, 8, 16, 32, 64)
GBITS = (10, 100)
PREDICT_SIZES = (10**6, 10**7)
LATENCY = 50e-6
"""Seconds per message on the network, one way (a data-centre round trip of 100 µs)."""
CALL_OVERHEAD = 100e-6
"""Seconds a shard spends per message besides decoding and applying it (an RPC's dispatch)."""
SIGMA = 0.3
"""Log-normal spread of a learner's compute time (none is measured per push here)."""
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "capacity.png"
FIGURE_SHARDS = (1, 4, 16, 64)
ENOUGH = 0.9
"""A p is served by S shards when its updates/s are at least this share of unlimited servers'."""
STREAM = 0xCA9A
"""Seeds the compute-time draws of the predictions."""


def sampler(model: str, mean: float, learners: int, seed: int = 0, sigma: float = 0.5) -> DelaySampler:
    """Compute-time draws for every learner from a registered delay model, one generator each."""
    cls = DELAYS.get(model)
    base = cls(delay_mean=mean, delay_sigma=sigma) if model == "lognormal" else cls(delay_mean=mean)
    rngs = [np.random.Generator(np.random.PCG64([seed, i, STREAM])) for i in range(learners)]
    return DelaySampler(base, rngs)


def mlp_hidden(d: int) -> int:
    """Hidden width of a 784-h-h-10 MLP with about ``d`` parameters."""
    return int((-795 + math.sqrt(795**2 + 4 * (d - 10))) / 2)


def compute_seconds(d: int, batch: int = 32) -> float:
    """One forward and backward pass of a d-parameter MLP on a batch of 28×28 images, one thread."""
    h = mlp_hidden(d)
    model = build_model("mlp", (1, 28, 28), 10, seed=0, hidden=[h, h])
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

    def step() -> None:
        model.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(x), y).backward()

    return median_time(step, repeats=5)


def costs(d: int, payload: str) -> dict:
    """Seconds per push of what a server and a learner do, and the push's bytes."""
    job, layout = make_job(payload), FlatLayout.single(d)
    server = job.server(torch.zeros(d), layout, copy=False)
    grad = torch.from_numpy(np.random.default_rng(0).standard_normal(d).astype(np.float32))
    codec = job.codec(layout)
    encoded = codec.encode(grad, 0)
    wire = pickle.dumps(to_wire(encoded), protocol=5)
    local = torch.empty(d)
    repeats = 5 if d >= 10**7 else 9
    return {
        "parameters": d,
        "payload": payload,
        "push_bytes": encoded.nbytes,
        "apply_s": median_time(lambda: server.apply(Push(0, server.version, encoded)), repeats),
        "serialise_s": median_time(lambda: pickle.dumps(to_wire(encoded), protocol=5), repeats),
        "deserialise_s": median_time(lambda: from_wire(pickle.loads(wire)), repeats),
        "pull_copy_s": median_time(lambda: local.copy_(server.params), repeats),
        "encode_s": median_time(lambda: codec.encode(grad, 0), repeats),
    }


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux ``/proc/stat``: every state
    but idle and iowait), or None where there is no such file."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Clock and machine CPU at the pushes that end the first and third quarter of a run: the
    steady middle half, without the processes' start and end."""

    def __init__(self, updates: int) -> None:
        self.at = {updates // 4: None, 3 * updates // 4: None}
        self.pushes = 0

    def __call__(self, version: int, samples: int) -> None:
        self.pushes += 1
        if self.pushes in self.at:
            self.at[self.pushes] = (time.perf_counter(), busy_cpu_seconds())

    def machine(self) -> dict:
        """The middle half's updates/s (the steady state the model predicts), busy cores and
        machine CPU seconds per update."""
        (first, (t0, c0)), (last, (t1, c1)) = sorted(self.at.items())
        n, cpu = last - first, None if c0 is None or c1 is None else c1 - c0
        return {
            "updates_per_s": n / (t1 - t0),
            "cores_busy": None if cpu is None else cpu / (t1 - t0),
            "cpu_per_update_s": None if cpu is None else cpu / n,
        }


def engine_run(engine: str, p: int, data: Dataset) -> dict:
    """One run's steady updates/s (its middle half; ``run_updates_per_s``: start to end, the
    processes' start included), τ, per-push phases (seconds), and the machine's CPU over the middle
    half (every process on it: learners, shards, the driver and, for Ray, its own daemons)."""
    cfg = {"dataset": data.name, "model": "mlp", "learners": p, "updates": UPDATES, "eval_every": 0}
    job = Job.from_config(RunConfig.from_dict({**cfg, "engine": engine}), dataset=data)
    meter = Meter(UPDATES)
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(Path(tmp), data.n_train, 10**9, lambda q: {}, p, progress=meter)
        result = ENGINE_REGISTRY.get(engine)().run(job, recorder)
        recorder.close()
    totals = {k: sum(t[k] for t in recorder.phase_totals.values()) for k in PHASES}
    staleness = staleness_summary(recorder.tau)
    return {
        "engine": engine,
        "learners": p,
        "updates": result.version,
        "parameters": job.layout().size,
        "run_updates_per_s": result.version / result.time,
        "tau_mean": staleness["mean"],
        "tau_p95": staleness["p95"],
        "phases": {k: v / recorder.pushes for k, v in totals.items()},
        **meter.machine(),
    }


def model_of(run: dict, phases: dict, stretch: float = 1.0) -> dict:
    """The model's updates/s and τ for ``run``'s p, with server-held and learner-held ``phases``,
    each ``stretch`` times as long (learners sharing this machine's cores)."""
    p = run["learners"]
    learner = stretch * (phases["compute"] + phases["compress"] + phases["push"])
    cluster = Cluster(p, 0.0, 0.0, pull_time=stretch * phases["pull"], apply_time=stretch * phases["apply"])
    got = predict(cluster, sampler("lognormal", learner, p, sigma=SIGMA), learner, updates=4000)
    return {"updates_per_s": got.updates_per_s, "tau_mean": got.tau_mean}


def validate(cores: int, recorded: list[dict] | None = None) -> list[dict]:
    """The engines' runs (or ``recorded`` ones) against the model's predictions."""
    rows = []
    data = load_dataset("mnist5k") if recorded is None else None
    for engine in ENGINES:
        if data is not None:
            runs = [engine_run(engine, p, data) for p in VALIDATE]
        else:
            runs = [run for run in recorded if run["engine"] == engine]
        for run in runs:
            fed = model_of(run, run["phases"])
            alone = model_of(run, runs[0]["phases"], max(1.0, run["learners"] / cores))
            for label, pred in (("fed", fed), ("from_p1", alone)):
                run[label] = pred
                run[f"{label}_error"] = pred["updates_per_s"] / run["updates_per_s"] - 1
            rows.append(run)
            print(
                f"{engine:5s} p={run['learners']} measured {run['updates_per_s']:7.1f}/s"
                f" τ {run['tau_mean']:.2f}"
                f" | fed {fed['updates_per_s']:7.1f}/s ({run['fed_error']:+.0%}) τ {fed['tau_mean']:.2f}"
                f" | from p=1 {alone['updates_per_s']:7.1f}/s ({run['from_p1_error']:+.0%})"
                f" | cores busy {run.get('cores_busy') or float('nan'):.2f}",
                flush=True,
            )
    return rows


def cluster_for(c: dict, p: int, s: int, gbits: int) -> Cluster:
    return Cluster(
        learners=p,
        shards=s,
        push_bytes=c["push_bytes"],
        pull_bytes=4 * c["parameters"],
        latency=LATENCY,
        bandwidth=gbits * 1e9 / 8,
        apply_time=c["apply_s"] + c["deserialise_s"],
        apply_fixed=CALL_OVERHEAD,
        pull_time=c["pull_copy_s"],
        server_links=True,
    )


def grid(measured: list[dict], compute: dict[int, float]) -> list[dict]:
    rows = []
    for c in (m for m in measured if m["parameters"] in PREDICT_SIZES):
        learner = compute[c["parameters"]] + c["encode_s"] + c["serialise_s"]
        for gbits in GBITS:
            for p in LEARNERS:
                draws = sampler("lognormal", learner, p, sigma=SIGMA)
                free = Cluster(
                    p, c["push_bytes"], 4 * c["parameters"], latency=LATENCY, bandwidth=gbits * 1.25e8
                )
                ceiling = predict(free, draws, learner, updates=20 * p + 400).updates_per_s
                for s in SHARDS:
                    cl = cluster_for(c, p, s, gbits)
                    got = predict(cl, sampler("lognormal", learner, p, sigma=SIGMA), learner, 20 * p + 400)
                    rows.append({
                        "parameters": c["parameters"], "payload": c["payload"], "gbits": gbits,
                        "learners": p, "shards": s, "updates_per_s": got.updates_per_s,
                        "tau_mean": got.tau_mean, "tau_p95": got.tau_p95, "utilisation": got.utilisation,
                        "bound": got.bound, "unlimited_per_s": ceiling, "learner_s": learner,
                    })  # fmt: skip
    return rows


def shards_needed(rows: list[dict]) -> list[dict]:
    """Per (d, payload, link): for each p, the fewest shards within ``ENOUGH`` of unlimited servers
    (None: more than the largest S)."""
    out = []
    for d, payload, gbits in sorted({(r["parameters"], r["payload"], r["gbits"]) for r in rows}):
        case = [r for r in rows if (r["parameters"], r["payload"], r["gbits"]) == (d, payload, gbits)]
        need = {}
        for p in LEARNERS:
            at = [r for r in case if r["learners"] == p]
            ok = [r["shards"] for r in at if r["updates_per_s"] >= ENOUGH * r["unlimited_per_s"]]
            need[p] = min(ok) if ok else None
        out.append({"parameters": d, "payload": payload, "gbits": gbits, "shards_needed": need})
    return out


def main() -> dict:
    torch.set_num_threads(1)
    load, started, cores = os.getloadavg()[0], time.perf_counter(), os.cpu_count() or 1
    if "--predict" in sys.argv[1:]:  # the recorded costs and validation, predictions made again
        recorded = json.loads((RESULTS / "capacity.json").read_text())
        return finish(recorded["costs"], {int(d): t for d, t in recorded["compute_s"].items()},
                      validate(recorded["assumptions"]["cores"], recorded["validation"]), load, started,
                      cores, recorded["load_average"])  # fmt: skip
    measured = [costs(d, payload) for d in SIZES for payload in PAYLOADS]
    for m in measured:
        print(
            f"d={m['parameters']:>10,} {m['payload']:6s} apply {1e3 * m['apply_s']:7.3f} ms"
            f"  (de)serialise {1e3 * m['serialise_s']:.3f}/{1e3 * m['deserialise_s']:.3f} ms"
            f"  pull copy {1e3 * m['pull_copy_s']:.3f} ms  encode {1e3 * m['encode_s']:.3f} ms",
            flush=True,
        )
    compute = {d: compute_seconds(d) for d in PREDICT_SIZES}
    print("compute (MLP, batch 32):", {d: f"{1e3 * t:.1f} ms" for d, t in compute.items()}, flush=True)
    return finish(measured, compute, validate(cores), load, started, cores)


def finish(measured: list[dict], compute: dict[int, float], validation: list[dict], load: float,
           started: float, cores: int, loads: list[float] | None = None) -> dict:  # fmt: skip
    """Predict from the measured costs, record everything (``loads``: the load average of the
    measurement, when it was recorded earlier), draw the figure."""
    rows = grid(measured, compute)
    needed = shards_needed(rows)
    for n in needed:
        case = f"d={n['parameters']:.0e} {n['payload']:6s} {n['gbits']:>3} Gbit/s"
        most, p_star = saturation({"rows": rows}, (n["parameters"], n["payload"], n["gbits"]))
        print(f"{case}: one server saturates at p ≈ {p_star:.1f} ({most:,.0f}/s); shards needed",
              n["shards_needed"], flush=True)  # fmt: skip
    result = {
        "assumptions": {
            "latency_s": LATENCY,
            "call_overhead_s": CALL_OVERHEAD,
            "compute_sigma": SIGMA,
            "enough": ENOUGH,
            "batch_size": 32,
            "validation_updates": UPDATES,
            "cores": cores,
        },
        "costs": measured,
        "compute_s": {str(d): t for d, t in compute.items()},
        "validation": validation,
        "rows": rows,
        "shards_needed": needed,
        "seconds": time.perf_counter() - started,
        "load_average": loads or [load, os.getloadavg()[0]],
    }
    write_result("capacity", result)
    figure(result)
    return result


def figure(result: dict | None = None) -> Path:
    """docs/capacity.png from ``result`` (default: the recorded one)."""
    r = result or json.loads((RESULTS / "capacity.json").read_text())
    path = capacity_plot(r["rows"], FIGURE_SHARDS, FIGURE)
    compact_png(path)
    return path


if __name__ == "__main__":
    figure() if "--figure" in sys.argv[1:] else main()
