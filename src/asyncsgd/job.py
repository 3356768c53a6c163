"""From a validated config to the core objects an engine runs: one assembly for every engine.

A :class:`Job` is everything an engine needs, in a form that can be shipped to other processes:
the config, the dataset, and a factory that rebuilds the same initial model. Its builders return
fresh core objects (server, learners, codecs), so each engine process assembles exactly the same
algorithm from the same recipe.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from asyncsgd.algorithms import ALGORITHMS, Algorithm, SSPGate
from asyncsgd.codecs import CODECS, Codec, Compressor, make_codec, make_compressor
from asyncsgd.config.schema import AUTO_LR, RunConfig
from asyncsgd.core.flat import FlatLayout, FlatModel
from asyncsgd.core.learner import Learner
from asyncsgd.core.server import ParameterServer
from asyncsgd.data import (
    DATASETS,
    PARTITIONS,
    TEXT_FEATURES,
    TEXT_VOCABS,
    BatchStreams,
    Dataset,
    load_dataset,
)
from asyncsgd.delays import (
    DELAYS,
    STALENESS,
    DelayModel,
    DelaySampler,
    Heterogeneous,
    LinkModel,
    StalenessModel,
)
from asyncsgd.delays.trace import TRACE_PREFIX, TraceSchedule
from asyncsgd.errors import ConfigError
from asyncsgd.models import MODELS, build_model
from asyncsgd.models.base import activations_per_sample, count_parameters
from asyncsgd.registry import UnknownName
from asyncsgd.rules import OPTIMIZERS, REMEDIES, Optimizer, Remedy, ServerRule, parse_remedies
from asyncsgd.sizing import check_memory
from asyncsgd.theory import LIPSCHITZ, RATES, Estimates, Prediction, ProbeSettings, Problem, estimate, predict
from asyncsgd.theory.render import provenance

PROTOCOLS = ("async", "sync", "sequential")
FIXED_DELAY = "fixed"
EVALS_PER_RUN = 25
DELAY_STREAM = 0xDE1A
# settings recorded beside an lr = "auto" prediction: what shaped the estimates and the formula
LR_SOURCE_KEYS = ("dataset", "data_seed", "data_path", "model", "hidden", "seed", "batch_size", "protocol",
                  "learners", "delay", "staleness", "epochs", "updates")  # fmt: skip
EstimatesCache = dict[tuple[Any, ...], Estimates]


def effective_config(cfg: RunConfig) -> RunConfig:
    """What a config really runs: ``protocol=sequential`` means one learner and no delay; a codec
    defined with error feedback (efsign, onebit, threshold, dropping) always runs with it."""
    if cfg.protocol == "sequential":
        cfg = cfg.replace(
            learners=1, delay="constant", delay_mean=0.0, slow_learners=0, latency=0.0,
            server_time=0.0, bandwidth=math.inf,
        )  # fmt: skip
    if cfg.codec in CODECS and CODECS.get(cfg.codec).feedback and not cfg.error_feedback:
        cfg = cfg.replace(error_feedback=True)
    return cfg


def settings_of(factory: object, cfg: RunConfig) -> dict[str, object]:
    """The constructor keywords a registered part declares in ``settings``, read from ``cfg``."""
    return {key: getattr(cfg, key) for key in getattr(factory, "settings", ())}


def check_combination(cfg: RunConfig) -> None:
    """Settings that are valid alone but not together (ConfigError naming the key to change)."""
    algo = ALGORITHMS.get(cfg.algorithm)
    if cfg.protocol not in algo.protocols:
        raise ConfigError(
            "protocol", f"algorithm {cfg.algorithm!r} runs under protocol {' or '.join(algo.protocols)}"
        )
    if cfg.local_steps != 1 and "local_steps" not in algo.settings:
        raise ConfigError(
            "local_steps", f"algorithm {cfg.algorithm!r} pushes every step; use localsgd for H > 1"
        )
    if algo(**settings_of(algo, cfg)).server_optimizer() is not None and cfg.rule != "sgd":
        raise ConfigError("rule", f"algorithm {cfg.algorithm!r} sets the server's update; leave rule='sgd'")
    optimizer = OPTIMIZERS.get(cfg.rule)
    if algo.pushes not in optimizer.pushes and cfg.rule != "sgd":
        raise ConfigError("rule", f"rule {cfg.rule!r} is not defined for {cfg.algorithm!r} pushes")
    if cfg.rule == "async_momentum" and cfg.protocol == "sync":
        raise ConfigError("rule", "async_momentum corrects for asynchrony; protocol='sync' has none")
    for name in parse_remedies(cfg.remedy):
        remedy = REMEDIES.get(name)
        if algo.pushes not in remedy.pushes:
            raise ConfigError(
                "remedy", f"remedy {name!r} needs {' or '.join(sorted(remedy.pushes))} pushes; "
                f"algorithm {cfg.algorithm!r} pushes a {algo.pushes}",
            )  # fmt: skip
    if cfg.ssp_bound >= 0 and (cfg.protocol == "sync" or cfg.delay == FIXED_DELAY):
        raise ConfigError("ssp_bound", "bounded staleness gates asynchronous learners: protocol='async', "
                          "and a delay model other than 'fixed'")  # fmt: skip


def check_names(cfg: RunConfig) -> None:
    """Every name in ``cfg`` refers to something registered (ConfigError naming the key if not)."""
    from asyncsgd.engines import ENGINES  # engines import this module

    def known(key: str, options: object) -> None:
        value = getattr(cfg, key)
        if value not in options:  # type: ignore[operator]
            listed = ", ".join(options.names() if hasattr(options, "names") else options)  # type: ignore[attr-defined]
            raise ConfigError(key, f"unknown {key} {value!r} (known: {listed})")

    known("engine", ENGINES)
    known("protocol", PROTOCOLS)
    known("dataset", DATASETS)
    known("model", MODELS)
    known("rule", OPTIMIZERS)
    known("codec", CODECS)
    known("partition", PARTITIONS)
    known("scope", ("global", "layer"))
    known("text_features", TEXT_FEATURES)
    known("text_vocab", TEXT_VOCABS)
    if cfg.delay.startswith(TRACE_PREFIX):
        if cfg.protocol != "async":
            raise ConfigError("delay", "a trace replays asynchronous pushes; it needs protocol='async'")
        try:
            schedule = TraceSchedule.load(cfg.delay)
        except ValueError as err:
            raise ConfigError("delay", str(err)) from None
        if schedule.learners > cfg.learners:
            raise ConfigError(
                "learners", f"the trace has {schedule.learners} learners, the config {cfg.learners}"
            )
    elif cfg.delay != FIXED_DELAY:
        known("delay", [*DELAYS.names(), FIXED_DELAY, TRACE_PREFIX + "DIR"])
    else:
        known("staleness_dist", STALENESS)
        if cfg.protocol != "async":
            raise ConfigError("delay", f"delay={FIXED_DELAY!r} draws τ directly; it needs protocol='async'")
    try:
        remedies = parse_remedies(cfg.remedy)
    except ValueError as err:
        raise ConfigError("remedy", str(err)) from None
    for name in remedies:
        if name not in REMEDIES:
            raise ConfigError("remedy", f"unknown remedy {name!r} (known: {', '.join(REMEDIES.names())})")
    known("algorithm", ALGORITHMS)
    known("theory_rate", RATES)
    known("theory_lipschitz", LIPSCHITZ)


def check_device(device: str) -> None:
    """ConfigError naming ``device`` unless this process can compute on it."""
    dev = torch.device(device)
    if dev.type == "cpu":
        return
    found = torch.accelerator.current_accelerator()
    count = torch.accelerator.device_count() if found is not None else 0
    if found is None or found.type != dev.type or (dev.index or 0) >= count:
        have = f"{count} {found.type} device(s)" if found is not None else "no accelerator"
        raise ConfigError(
            "device", f"{device!r} is not available here: torch {torch.__version__} sees {have}"
        )


def check_model_fits(cfg: RunConfig, dataset: Dataset, processes: int = 0) -> None:
    """Build the configured model only once it is known to fit in memory (counted on the meta
    device) with the ``processes`` bytes of the engine's processes, then refuse a run whose passes
    would not fit either; ConfigError naming the setting."""
    shape, classes = dataset.input_shape, dataset.num_classes
    options = {"hidden": tuple(cfg.hidden), "embed_dim": cfg.embed_dim}
    try:
        parameters = count_parameters(cfg.model, shape, classes, dataset.vocab_size, **options)
        check_memory(cfg, dataset, parameters, processes=processes)
        module = build_model(cfg.model, shape, classes, cfg.seed, dataset.vocab_size, **options)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError("model", str(err)) from None
    activations = activations_per_sample(module, shape, dataset.is_tokens)
    check_memory(cfg, dataset, parameters, activations, processes=processes)


def dataset_options(cfg: RunConfig) -> dict[str, object]:
    """Every setting a dataset loader reads; two configs with equal options load equal data."""
    return {
        "seed": cfg.data_seed, "path": cfg.data_path, "text_features": cfg.text_features,
        "text_vocab": cfg.text_vocab, "vocab_size": cfg.vocab_size, "max_tokens": cfg.max_tokens,
    }  # fmt: skip


def dataset_key(cfg: RunConfig) -> tuple:
    """A hashable identity of the data ``cfg`` trains on (for caching loaded datasets)."""
    return (cfg.dataset, *dataset_options(cfg).values())


def load_config_dataset(cfg: RunConfig) -> Dataset:
    return load_dataset(cfg.dataset, **dataset_options(cfg))  # type: ignore[arg-type]


@dataclass
class Job:
    """A runnable method: config, data and a model recipe, plus builders for the core objects."""

    config: RunConfig
    dataset: Dataset
    model_factory: Callable[[], nn.Module]
    name: str = "run"
    model_key: tuple[Any, ...] = ()  # identifies the initial model, for sharing theory estimates
    lr_source: dict[str, Any] | None = None  # provenance of a predicted lr (lr = "auto")

    @classmethod
    def from_config(
        cls,
        config: RunConfig,
        name: str = "run",
        dataset: Dataset | None = None,
        model: nn.Module | None = None,
        estimates: EstimatesCache | None = None,
    ) -> Job:
        """Resolve names, load the dataset (unless given) and fix the model recipe.

        ``lr = "auto"`` is replaced by the predicted rate (:meth:`predict_lr`); ``estimates``
        shares the measured constants between jobs with the same data, model and probe.
        """
        from asyncsgd.engines import ENGINES  # engines import this module

        cfg = effective_config(config)
        check_names(cfg)
        check_combination(cfg)
        engine = ENGINES.get(cfg.engine)
        if dataset is None:
            dataset = load_config_dataset(cfg)
        if model is not None:
            factory: Callable[[], nn.Module] = functools.partial(copy.deepcopy, model)
        else:
            factory = functools.partial(
                build_model, cfg.model, dataset.input_shape, dataset.num_classes, cfg.seed,
                hidden=tuple(cfg.hidden), vocab_size=dataset.vocab_size, embed_dim=cfg.embed_dim,
            )  # fmt: skip
            check_model_fits(cfg, dataset, engine.process_bytes(cfg))
        key = ("module", id(model)) if model is not None else (cfg.model, tuple(cfg.hidden), cfg.seed)
        job = cls(cfg, dataset, factory, name, model_key=key)
        job.streams()  # fail now, not mid-run, on an impossible batch/partition
        if engine.learners_here:
            check_device(cfg.device)
        engine.check(job)
        if cfg.lr == AUTO_LR:
            job.resolve_auto_lr(estimates)
        return job

    # -- model and parameters ------------------------------------------------------------------
    def flat_model(self, device: str | None = None) -> FlatModel:
        """A fresh initial model, computing on ``device`` (default: the ``device`` setting)."""
        return FlatModel(self.model_factory(), device=self.config.device if device is None else device)

    def eval_device(self) -> str:
        """Where this process evaluates: the ``device`` setting if it exists here, else the CPU
        (a driver without the accelerators its remote learners have)."""
        try:
            check_device(self.config.device)
        except ConfigError:
            return "cpu"
        return self.config.device

    def layout(self) -> FlatLayout:
        return self.flat_model("cpu").layout

    # -- algorithm core ------------------------------------------------------------------------
    def codec(self, layout: FlatLayout) -> Codec:
        cfg = self.config
        try:
            return make_codec(cfg.codec, layout, **settings_of(CODECS.get(cfg.codec), cfg))
        except (ValueError, UnknownName) as err:
            raise ConfigError("codec", str(err)) from None

    def compressor(self, layout: FlatLayout) -> Compressor:
        return make_compressor(self.codec(layout), self.config.error_feedback)

    def algorithm(self) -> Algorithm:
        cls = ALGORITHMS.get(self.config.algorithm)
        try:
            return cls(**settings_of(cls, self.config))
        except ValueError as err:
            raise ConfigError("algorithm", str(err)) from None

    def rule(self) -> ServerRule:
        cfg, algo = self.config, self.algorithm()
        if not isinstance(cfg.lr, float):
            raise ConfigError("lr", f"{cfg.lr!r} must be resolved to a number (Job.from_config does it)")
        optimizer = algo.server_optimizer() or self._build("rule", OPTIMIZERS.get(cfg.rule))
        remedies = [self._build("remedy", REMEDIES.get(n)) for n in parse_remedies(cfg.remedy)]
        return ServerRule(optimizer, algo.server_lr(cfg.lr), remedies)  # type: ignore[arg-type]

    def _build(self, key: str, cls: type[Optimizer] | type[Remedy]) -> Optimizer | Remedy:
        try:
            return cls(**settings_of(cls, self.config))
        except ValueError as err:
            raise ConfigError(key, str(err)) from None

    def server(self, params: torch.Tensor, layout: FlatLayout, copy: bool = True) -> ParameterServer:
        return ParameterServer(params, self.codec(layout), self.rule(), self.config.learners, copy=copy)

    def learner(self, learner_id: int, flat: FlatModel) -> Learner:
        """Learner ``learner_id`` of the configured algorithm; it computes with ``flat``, whose
        parameters must still be the initial ones (algorithms with local state copy them)."""

        def grad_fn(x: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]):
            loss = flat.gradient(x, *batch)
            return loss, flat.grads

        compressor = self.compressor(flat.layout)
        return self.algorithm().learner(learner_id, compressor, grad_fn, self.config.seed, flat.params)

    def ssp_gate(self) -> SSPGate | None:
        """Bounded staleness for asynchronous engines, or ``None`` when ``ssp_bound = −1``."""
        cfg = self.config
        return SSPGate(cfg.learners, cfg.ssp_bound) if cfg.ssp_bound >= 0 else None

    # -- data ----------------------------------------------------------------------------------
    def streams(self) -> BatchStreams:
        cfg = self.config
        try:
            return BatchStreams(self.dataset.n_train, cfg.batch_size, cfg.learners, cfg.partition, cfg.seed)
        except ValueError as err:
            raise ConfigError("batch_size", str(err)) from None

    def batch(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.from_numpy(indices)
        return self.dataset.x_train.index_select(0, idx), self.dataset.y_train.index_select(0, idx)

    # -- simulated time ------------------------------------------------------------------------
    def delay_model(self) -> DelayModel:
        cfg = self.config
        if cfg.delay.startswith(TRACE_PREFIX):
            return DELAYS.get("constant")(0.0)  # the schedule comes from the trace, not from delays
        cls = DELAYS.get(cfg.delay)
        base = cls(cfg.delay_mean, cfg.delay_sigma) if cfg.delay == "lognormal" else cls(cfg.delay_mean)
        if cfg.slow_learners:
            slow = range(cfg.learners - cfg.slow_learners, cfg.learners)
            return Heterogeneous(base, slow, cfg.slow_factor)
        return base

    def delay_rng(self, learner: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64([self.config.seed, learner, DELAY_STREAM]))

    def delays(self) -> DelaySampler:
        """Compute-time draws for every learner, each from its own generator."""
        return DelaySampler(self.delay_model(), [self.delay_rng(i) for i in range(self.config.learners)])

    def staleness_model(self) -> StalenessModel | None:
        cfg = self.config
        if cfg.delay != FIXED_DELAY:
            return None
        return STALENESS.get(cfg.staleness_dist)(cfg.staleness)

    def trace_schedule(self) -> TraceSchedule | None:
        """The recorded schedule to replay (``delay="trace:DIR"``), or None."""
        if not self.config.delay.startswith(TRACE_PREFIX):
            return None
        return TraceSchedule.load(self.config.delay)

    def link(self) -> LinkModel:
        return LinkModel(self.config.latency, self.config.bandwidth)

    # -- budget --------------------------------------------------------------------------------
    @property
    def samples_per_update(self) -> int:
        cfg = self.config
        steps = self.algorithm().steps_per_push
        return cfg.batch_size * steps * (cfg.learners if cfg.protocol == "sync" else 1)

    @property
    def max_samples(self) -> int | None:
        if self.config.epochs <= 0:
            return None
        return math.ceil(self.config.epochs * self.dataset.n_train)

    @property
    def max_updates(self) -> int | None:
        return self.config.updates or None

    @property
    def expected_updates(self) -> int:
        if self.max_updates is not None:
            return self.max_updates
        return math.ceil((self.max_samples or 0) / self.samples_per_update)

    @property
    def eval_every(self) -> int:
        return self.config.eval_every or max(1, self.expected_updates // EVALS_PER_RUN)

    def budget_reached(self, updates: int, samples: int) -> bool:
        if self.max_updates is not None and updates >= self.max_updates:
            return True
        return self.max_samples is not None and samples >= self.max_samples

    # -- theory: lr = "auto" ---------------------------------------------------------------------
    def probe_settings(self) -> ProbeSettings:
        cfg = self.config
        return ProbeSettings(
            batch_size=cfg.batch_size, points=cfg.theory_points, steps=cfg.theory_steps,
            probe_lr=cfg.theory_probe_lr, batches=cfg.theory_batches, hvp=cfg.theory_hvp,
            samples=cfg.theory_samples, f_low=cfg.theory_f_low, seed=cfg.seed,
        )  # fmt: skip

    def theory_problem(self) -> Problem:
        """M, K, p and the delay bound T of this run (T = p for Downpour, as in the study)."""
        cfg = self.config
        if cfg.protocol != "async":
            delay, source = 0.0, f"protocol = {cfg.protocol}: no stale gradients"
        elif cfg.delay == FIXED_DELAY:
            delay, source = float(cfg.staleness), "delay = fixed: the largest τ drawn"
        else:
            delay, source = float(cfg.learners), "the study's T = p"
        return Problem(self.samples_per_update, self.expected_updates, cfg.learners, delay, source)

    def theory_estimates(self, cache: EstimatesCache | None = None) -> Estimates:
        """The bound's constants for this job's data, initial model and probe settings."""
        settings = self.probe_settings()
        key = (id(self.dataset), self.model_key, settings)
        if cache is not None and key in cache:
            return cache[key]
        flat = self.flat_model("cpu")  # the probe's Hessian-vector products use the host buffers
        found = estimate(flat, flat.params.clone(), self.dataset.x_train, self.dataset.y_train, settings)
        if cache is not None:
            cache[key] = found
        return found

    def predict_lr(self, cache: EstimatesCache | None = None) -> tuple[Estimates, Prediction]:
        est = self.theory_estimates(cache)
        cfg = self.config
        return est, predict(est, self.theory_problem(), cfg.theory_rate, cfg.theory_lipschitz)

    def resolve_auto_lr(self, cache: EstimatesCache | None = None) -> None:
        """Replace ``lr = "auto"`` by the prediction and keep where it came from."""
        est, pred = self.predict_lr(cache)
        cfg = self.config
        if not (pred.lr > 0 and math.isfinite(pred.lr)):
            raise ConfigError("lr", f"auto: the predicted rate is {pred.lr}")
        settings = {k: v for k, v in cfg.to_dict().items() if k in LR_SOURCE_KEYS or k.startswith("theory_")}
        self.config = cfg.replace(lr=pred.lr)
        self.lr_source = provenance(est, pred, settings)
