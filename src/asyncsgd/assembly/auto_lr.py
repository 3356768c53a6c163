"""``lr = "auto"``: the learning rate Lian et al.'s bound predicts for a job, from the constants
measured on a probe of its data and initial model (:mod:`asyncsgd.theory`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from asyncsgd.assembly.checks import FIXED
from asyncsgd.config.schema import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.theory import Estimates, Prediction, ProbeSettings, Problem, estimate, predict
from asyncsgd.theory.render import provenance

if TYPE_CHECKING:
    from asyncsgd.assembly.job import Job

# settings recorded beside an lr = "auto" prediction: what shaped the estimates and the formula
LR_SOURCE_KEYS = ("dataset", "data_seed", "data_path", "model", "hidden", "seed", "batch_size", "protocol",
                  "learners", "schedule", "delay", "staleness", "epochs", "updates")  # fmt: skip
EstimatesCache = dict[tuple[Any, ...], Estimates]


def probe_settings(cfg: RunConfig) -> ProbeSettings:
    return ProbeSettings(
        batch_size=cfg.batch_size, points=cfg.theory_points, steps=cfg.theory_steps,
        probe_lr=cfg.theory_probe_lr, batches=cfg.theory_batches, hvp=cfg.theory_hvp,
        samples=cfg.theory_samples, f_low=cfg.theory_f_low, seed=cfg.seed,
    )  # fmt: skip


def theory_problem(job: Job) -> Problem:
    """M, K, p and the delay bound T of this run (T = p for Downpour, as in the study)."""
    cfg = job.config
    if cfg.protocol != "async":
        delay, source = 0.0, f"protocol = {cfg.protocol}: no stale gradients"
    elif cfg.schedule == FIXED:
        delay, source = float(cfg.staleness), "schedule = fixed: the largest τ drawn"
    else:
        delay, source = float(cfg.learners), "the study's T = p"
    return Problem(job.samples_per_update, job.expected_updates, cfg.learners, delay, source)


def theory_estimates(job: Job, cache: EstimatesCache | None = None) -> Estimates:
    """The bound's constants for the job's data, initial model and probe settings."""
    settings = probe_settings(job.config)
    key = (id(job.dataset), job.model_key, settings)
    if cache is not None and key in cache:
        return cache[key]
    flat = job.flat_model("cpu")  # the probe's Hessian-vector products use the host buffers
    found = estimate(flat, flat.params.clone(), job.dataset.x_train, job.dataset.y_train, settings)
    if cache is not None:
        cache[key] = found
    return found


def predict_lr(job: Job, cache: EstimatesCache | None = None) -> tuple[Estimates, Prediction]:
    est = theory_estimates(job, cache)
    cfg = job.config
    return est, predict(est, theory_problem(job), cfg.theory_rate, cfg.theory_lipschitz)


def resolve_auto_lr(job: Job, cache: EstimatesCache | None = None) -> None:
    """Replace the job's ``lr = "auto"`` by the prediction and keep where it came from."""
    est, pred = predict_lr(job, cache)
    cfg = job.config
    if not (pred.lr > 0 and math.isfinite(pred.lr)):
        raise ConfigError("lr", f"auto: the predicted rate is {pred.lr}")
    settings = {k: v for k, v in cfg.to_dict().items() if k in LR_SOURCE_KEYS or k.startswith("theory_")}
    job.config = cfg.replace(lr=pred.lr)
    job.lr_source = provenance(est, pred, settings)
