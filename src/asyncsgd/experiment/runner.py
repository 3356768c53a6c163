"""Run an experiment: each method through its engine, with every output written as it goes.

Layout of a run directory::

    config.toml            the fully resolved experiment (every key of every method)
    summary.json           one entry per method (see metrics/summary.py)
    accuracy_vs_updates.png, accuracy_vs_samples.png, staleness.png
    <method>/summary.json, trace.csv (one row per push), metrics.csv (one row per evaluation),
             checkpoint.pt (with ``checkpoint_every``; see checkpoint.py and resume.py)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asyncsgd.assembly.auto_lr import EstimatesCache
from asyncsgd.assembly.checks import effective_config
from asyncsgd.assembly.datasets import dataset_key, load_config_dataset
from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.config.files import Experiment, dump_experiment
from asyncsgd.data import Dataset
from asyncsgd.experiment.checkpoint import Checkpoints, Identity
from asyncsgd.experiment.interrupt import setting_up
from asyncsgd.experiment.outcome import ExperimentResult, MethodResult
from asyncsgd.experiment.resume import Resume, plan_resume
from asyncsgd.metrics import Evaluator, Recorder, build_summary, write_json
from asyncsgd.metrics.plots import accuracy_plot, breakdown_plot, staleness_plot
from asyncsgd.metrics.trackers import Place, Trackers
from asyncsgd.outputs import write_text
from asyncsgd.vocabulary.reporting import EngineResult

ProgressFactory = Callable[[Job], Callable[[int, int], None] | None]

ONE_THREAD_PARAMETERS = 200_000
"""With ``threads = 0`` a model of at most this many parameters computes on one thread: on the
small models measured (benchmarks/threads_default.py: an MLP of 9,610 and LeNet of 107,786
parameters, batches of 32), one thread was 28 and 2.9 times faster than torch's default of one
per core, whose synchronisation costs more than the little work a step splits. Larger models were
not measured, so above it the process's thread count is left as it is."""


def threads_for(threads: int, parameters: int) -> int | None:
    """The intra-op thread count a run sets: ``threads`` when given, one for a small model when
    ``threads = 0``, else None (keep the process's count)."""
    if threads:
        return threads
    return 1 if parameters <= ONE_THREAD_PARAMETERS else None


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None: unchanged), restoring the count afterwards,
    also when the run fails: a library call leaves no process-wide setting behind."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class MethodAborted(KeyboardInterrupt):
    """A method cut off at once (the exception that cut it off is the cause); ``method`` holds its
    summary of what the recorder had (written to its directory)."""

    def __init__(self, method: MethodResult) -> None:
        super().__init__(f"method {method.name} aborted")
        self.method = method


def prepare_jobs(
    exp: Experiment,
    dataset: Dataset | None = None,
    model: nn.Module | None = None,
    estimates: EstimatesCache | None = None,
) -> list[Job]:
    """Build every method's job before running any, so a bad setting fails before work starts.

    Methods with ``lr = "auto"`` and the same data, model and probe share one measurement.
    """
    cache: dict[tuple, Dataset] = {}
    estimates = {} if estimates is None else estimates
    jobs = []
    for method in exp.methods:
        cfg = effective_config(method.config)
        data = dataset
        if data is None:
            key = dataset_key(cfg)
            if key not in cache:
                cache[key] = load_config_dataset(cfg)
            data = cache[key]
        jobs.append(Job.from_config(cfg, method.name, dataset=data, model=model, estimates=estimates))
    return jobs


def run_job(
    job: Job,
    out_dir: Path | None,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: dict[str, Any] | None = None,
    identity: Identity | None = None,
    experiment: str = "asyncsgd",
) -> MethodResult:
    """Run one method and write its outputs into ``out_dir`` (if given).

    With ``checkpoint`` (see :mod:`asyncsgd.experiment.checkpoint`) the method continues from it.
    Checkpoints it saves carry ``identity`` (default: the job's own, with no experiment name).
    A ``KeyboardInterrupt`` (a second Ctrl-C, or a signal while the engine was starting) becomes
    :class:`MethodAborted` once the summary of what was recorded is written. The trackers of
    ``loggers`` (:mod:`asyncsgd.metrics.trackers`) get the run under ``experiment``, and a
    ``progress`` with an ``evaluated`` method gets each evaluation's row.
    """
    setting_up(stop)
    evaluator = Evaluator(job.flat_model(job.eval_device()), job.dataset, job.config.eval_grad_norm)
    trackers = Trackers.open(job.config, Place(out_dir, experiment, out_dir.name if out_dir else job.name))
    with torch_threads(threads_for(job.config.threads, evaluator.flat.size)):
        return _run_job(job, evaluator, trackers, out_dir, stop, progress, checkpoint, identity)


def _run_job(
    job: Job,
    evaluator: Evaluator,
    trackers: Trackers,
    out_dir: Path | None,
    stop: Callable[[], bool],
    progress: Callable[[int, int], None] | None,
    checkpoint: dict[str, Any] | None,
    identity: Identity | None,
) -> MethodResult:
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(
        out_dir, job.dataset.n_train, job.eval_every, evaluator, job.config.learners, stop, progress,
        resume=checkpoint["recorder"] if checkpoint else None, validation=job.dataset.has_validation,
    )  # fmt: skip
    if out_dir is not None and job.config.checkpoint_every:
        saved_at = checkpoint["updates"] if checkpoint else 0
        who = identity if identity is not None else Identity.of(job)
        recorder.checkpoints = Checkpoints(out_dir, job.config.checkpoint_every, who, saved_at)
    recorder.listeners += [trackers.metrics, *filter(None, [getattr(progress, "evaluated", None)])]
    if checkpoint is not None:
        recorder.resumed_engine_state = checkpoint["engine"]
    start = time.perf_counter()
    try:
        if checkpoint is None:
            recorder.evaluate(job.flat_model("cpu").params, 0, 0, 0.0)
        result = ENGINES.get(job.config.engine)().run(job, recorder)
        final = recorder.finish(result.params, result.version, result.time)
    except KeyboardInterrupt as err:
        recorder.close()
        wall = recorder.wall_before + time.perf_counter() - start
        summary = aborted_summary(job, recorder, evaluator.flat.size, wall)
        if out_dir is not None:
            write_json(out_dir / "summary.json", summary)
        cut = MethodResult(job.name, summary, torch.empty(0), recorder.metrics, out_dir)
        trackers.finish(summary)
        raise MethodAborted(cut) from err
    except BaseException:
        trackers.close()
        raise
    finally:
        recorder.close()
    wall = recorder.wall_before + time.perf_counter() - start
    summary = build_summary(job, recorder, result, final, wall)
    if out_dir is not None:
        write_json(out_dir / "summary.json", summary)
    trackers.finish(summary)
    return MethodResult(job.name, summary, result.params, recorder.metrics, out_dir, job.model_factory)


def aborted_summary(job: Job, recorder: Recorder, size: int, wall: float) -> dict[str, Any]:
    """The summary of a method cut off between two updates, from what its recorder has: counts,
    staleness and bytes of the pushes it saw, its last evaluation as ``final``. The server's
    parameters at the cut are unknown (``params_sha256`` is null) and rejections have no reason."""
    last = recorder.metrics[-1] if recorder.metrics else {"test_accuracy": math.nan, "train_loss": math.nan}
    rejected = {i: {"unknown": c["rejected"]} for i, c in recorder.per_learner.items() if c["rejected"]}
    stand_in = EngineResult(torch.zeros(size), recorder.last_update, math.nan, rejected)
    summary = build_summary(job, recorder, stand_in, dict(last), wall)
    summary.update(params_sha256=None, server_memory_bytes=None, stop_reason="aborted", interrupted=True)
    return summary


def write_plots(result: ExperimentResult) -> list[Path]:
    if result.out_dir is None or not result.methods:
        return []
    curves = {m.name: m.metrics for m in result.methods}
    title = result.name
    # measured (wall-clock) breakdowns, when several runs can be compared
    measured = {
        f"{m.name} (p={m.summary['learners']})": m.summary["time"]["breakdown"]
        for m in result.methods
        if m.summary["time"].get("clock") == "wall" and sum(m.summary["time"]["breakdown"].values()) > 0
    }
    extra = []
    if len(measured) >= 2:
        extra.append(breakdown_plot(measured, result.out_dir / "time_breakdown.png", title))
    return [
        *extra,
        accuracy_plot(curves, "update", result.out_dir / "accuracy_vs_updates.png", title),
        accuracy_plot(curves, "samples", result.out_dir / "accuracy_vs_samples.png", title),
        staleness_plot(
            {m.name: m.summary["staleness"]["histogram"] for m in result.methods},
            result.out_dir / "staleness.png",
            title,
        ),
    ]


def run_experiment(
    exp: Experiment,
    out_dir: Path | None,
    *,
    dataset: Dataset | None = None,
    model: nn.Module | None = None,
    stop: Callable[[], bool] = lambda: False,
    progress: ProgressFactory | None = None,
    resume: bool = False,
) -> ExperimentResult:
    """Run every method of ``exp`` in order; stop early (keeping results) when ``stop()`` is true.

    With ``resume``, ``out_dir`` holds an earlier, interrupted run of ``exp``: finished methods are
    kept, a method with a checkpoint continues from it, the others run from the start.
    """
    jobs = prepare_jobs(exp, dataset, model)
    plans = plan_resume(out_dir, exp, jobs) if resume and out_dir is not None else [Resume()] * len(jobs)
    result = ExperimentResult(exp.name, out_dir)
    if out_dir is not None:  # nothing is written before every method passed its checks
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_text(out_dir / "config.toml", dump_experiment(exp))
    try:
        for job, method, plan in zip(jobs, exp.methods, plans, strict=True):
            method_dir = out_dir / job.name if out_dir is not None else None
            if plan.finished is not None:
                summary, metrics = plan.finished
                result.methods.append(MethodResult(job.name, summary, torch.empty(0), metrics, method_dir))
                continue
            saves = method_dir is not None and job.config.checkpoint_every
            identity = Identity.of(job, exp.name, method.config) if saves else None
            reporter = progress(job) if progress else None
            result.methods.append(
                run_job(job, method_dir, stop, reporter, plan.checkpoint, identity, experiment=exp.name)
            )
            if stop():
                result.interrupted = True
                break
    except KeyboardInterrupt as err:  # cut off at once: keep what is known, skip the plots
        if isinstance(err, MethodAborted):
            result.methods.append(err.method)
        result.interrupted = result.aborted = True
        raise
    finally:
        if out_dir is not None and result.methods:
            write_json(out_dir / "summary.json", {"experiment": exp.name, "methods": result.summary})
            if not result.aborted:
                result.plots = write_plots(result)
    return result
