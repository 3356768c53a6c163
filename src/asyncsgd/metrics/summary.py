"""``summary.json`` of one method: final scores, staleness, bytes, time breakdown, provenance."""

from __future__ import annotations

import hashlib
import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from asyncsgd.assembly.checks import settings_of
from asyncsgd.assembly.job import Job
from asyncsgd.codecs import CODECS
from asyncsgd.config.schema import RunConfig
from asyncsgd.metrics.recorder import Recorder
from asyncsgd.metrics.staleness import staleness_summary
from asyncsgd.outputs import write_text
from asyncsgd.vocabulary.reporting import PHASES, EngineResult


def kept_ratio(cfg: RunConfig) -> float:
    """The fraction of coordinates a push keeps: the codec's ``ratio`` where it takes one, else 1."""
    return float(settings_of(CODECS.get(cfg.codec), cfg).get("ratio", 1.0))


def params_sha256(params: torch.Tensor) -> str:
    """Hash of the raw little-endian float32 bytes of the flat parameter vector."""
    return hashlib.sha256(params.detach().contiguous().numpy().tobytes()).hexdigest()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def grad_norm_summary(metrics: list[dict[str, float]]) -> dict[str, Any] | None:
    """``‖∇f(x)‖²`` at the evaluations (``eval_grad_norm``): the last value, and the ergodic average
    ``(1/T) Σ_t ‖∇f(x_t)‖²`` approximated by the mean over the evaluation points (every
    ``eval_every`` updates from x_1, plus the final point); None when it was not measured."""
    values = [m["grad_norm_sq"] for m in metrics if math.isfinite(m.get("grad_norm_sq", math.nan))]
    if not values:
        return None
    return {"final": values[-1], "ergodic": sum(values) / len(values), "points": len(values)}


KINDS = ("applied", "rejected", "dropped")
INVARIANTS = (
    "updates == applied + numbered_drops + torn + lost",
    "pushes == applied + rejected + dropped",
)


def build_accounting(recorder: Recorder, result: EngineResult) -> dict[str, Any]:
    """Where every update number and every push went, so that none is unaccounted for.

    ``updates``: update numbers the server issued. ``pushes``: push records in the trace, each
    ``applied``, ``rejected`` or ``dropped`` (by a remedy). ``numbered_drops``: dropped pushes that
    had taken an update number (with shards, the number is reserved before the shards decide).
    ``torn``: numbered updates a learner's death cut part-way (some shard may hold part of one, or
    some shards applied it and others never saw it); ``lost``: numbered updates whose record a
    death lost, applied to no shard or to every one; ``unrecorded``: pushes with no number whose
    record a death lost (they changed no parameter). The lists say which, by whom, on which shards.
    ``balanced``: both invariants hold. An engine reports its part in ``extra["accounting"]``; an
    engine that reports none (the simulator) has no deaths, and its version is the count."""
    engine = result.extra.get("accounting") or {}
    counts = recorder.per_learner.values()
    applied, rejected, dropped = (sum(int(c.get(k, 0)) for c in counts) for k in KINDS)
    torn = list(engine.get("torn_updates", []))
    lost = list(engine.get("lost_updates", []))
    unrecorded = list(engine.get("unrecorded_pushes", []))
    out = {
        "updates": int(engine.get("updates", result.version)),
        "pushes": recorder.pushes,
        "applied": applied,
        "rejected": rejected,
        "dropped": dropped,
        "numbered_drops": int(engine.get("numbered_drops", 0)),
        "torn": len(torn),
        "lost": len(lost),
        "unrecorded": len(unrecorded),
    }
    out["balanced"] = (
        out["updates"] == applied + out["numbered_drops"] + out["torn"] + out["lost"]
        and out["pushes"] == applied + rejected + dropped
    )
    return {**out, "invariants": list(INVARIANTS), "torn_updates": torn, "lost_updates": lost,
            "unrecorded_pushes": unrecorded}  # fmt: skip


FINISHED = ("budget", "diverged")
"""Stop reasons of a run that is a result: its budget spent, or its model diverged (every push NaN/Inf
for a while; the same settings diverge again, so a rerun would only repeat it)."""


def build_summary(
    job: Job, recorder: Recorder, result: EngineResult, final: dict[str, float], wall: float
) -> dict[str, Any]:
    cfg = job.config
    size = int(result.params.numel())
    breakdown = {p: sum(t[p] for t in recorder.phase_totals.values()) for p in PHASES}
    per_learner = {
        str(i): {**{k: int(v) for k, v in recorder.per_learner[i].items()},
                 "time": recorder.phase_totals[i]}
        for i in sorted(recorder.per_learner)
    }  # fmt: skip
    rejected = {str(k): v for k, v in sorted(result.rejected.items())}
    stop = recorder.stop_reason or result.extra.get("stop_reason") or "budget"
    info = {k: v for k, v in result.extra.items() if k != "accounting"}  # the summary has its own
    return {
        "method": job.name,
        "engine": cfg.engine,
        "protocol": cfg.protocol,
        "algorithm": cfg.algorithm,
        "learners": cfg.learners,
        "dataset": job.dataset.name,
        "model": cfg.model,
        "parameters": size,
        "codec": cfg.codec,
        "ratio": kept_ratio(cfg),
        "error_feedback": cfg.error_feedback,
        "rule": cfg.rule,
        "remedy": cfg.remedy,
        "lr": cfg.lr,
        **({"lr_source": job.lr_source} if job.lr_source else {}),
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "final": final,
        "final_test_accuracy": final["test_accuracy"],
        "final_train_loss": final["train_loss"],
        **({"final_val_accuracy": final["val_accuracy"]} if "val_accuracy" in final else {}),
        **(
            {"validation": {"fraction": cfg.validation, "samples": int(job.dataset.y_val.shape[0])}}
            if job.dataset.y_val is not None
            else {}
        ),
        **({"grad_norm_sq": g} if (g := grad_norm_summary(recorder.metrics)) is not None else {}),
        "updates": result.version,
        "pushes": recorder.pushes,
        "samples": recorder.samples,
        "epochs": recorder.samples / job.dataset.n_train,
        "staleness": staleness_summary(recorder.tau),
        "bytes": {
            "up": recorder.bytes_up,
            "down": recorder.bytes_down,
            "up_per_push": recorder.bytes_up / recorder.pushes if recorder.pushes else 0.0,
            "dense_push": 4 * size,
            "compression": (recorder.bytes_up / (4 * size * recorder.pushes)) if recorder.pushes else 1.0,
        },
        "rejected": {"total": sum(sum(v.values()) for v in result.rejected.values()), "by_learner": rejected},
        "dropped": sum(int(c.get("dropped", 0)) for c in recorder.per_learner.values()),
        "accounting": build_accounting(recorder, result),
        "time": {
            "wall_seconds": wall,
            "engine_seconds": result.time,
            "clock": "simulated" if cfg.engine == "sim" else "wall",
            "breakdown": breakdown,
            "per_learner": per_learner,
        },
        "server_memory_bytes": result.server_memory_bytes,
        "params_sha256": params_sha256(result.params),
        "stop_reason": stop,
        "interrupted": stop == "interrupted",
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "asyncsgd": _version("asyncsgd"),
            "threads": torch.get_num_threads(),
            # what a bit-identical params_sha256 also depends on: the kernels torch picks
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine(),
        },
        **({"engine_info": info} if info else {}),
    }


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees a half-written file, a failed write (disk full)
    leaves the earlier file as it was and no temporary file (see :mod:`asyncsgd.outputs`)."""
    write_text(path, json.dumps(_clean(data), indent=2) + "\n")
