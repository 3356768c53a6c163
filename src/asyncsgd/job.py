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

import numpy as np
import torch
from torch import nn

from asyncsgd.codecs import CODECS, Codec, Compressor, make_codec, make_compressor
from asyncsgd.config.schema import RunConfig
from asyncsgd.core.flat import FlatLayout, FlatModel
from asyncsgd.core.learner import Learner
from asyncsgd.core.server import ParameterServer
from asyncsgd.data import DATASETS, PARTITIONS, BatchStreams, Dataset, load_dataset
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
from asyncsgd.registry import UnknownName
from asyncsgd.rules import OPTIMIZERS, REMEDIES, ServerRule, parse_remedies

PROTOCOLS = ("async", "sync", "sequential")
FIXED_DELAY = "fixed"
EVALS_PER_RUN = 25
DELAY_STREAM = 0xDE1A


def effective_config(cfg: RunConfig) -> RunConfig:
    """What a config really runs: ``protocol=sequential`` means one learner and no delay."""
    if cfg.protocol == "sequential":
        return cfg.replace(
            learners=1, delay="constant", delay_mean=0.0, slow_learners=0, latency=0.0,
            server_time=0.0, bandwidth=math.inf,
        )  # fmt: skip
    return cfg


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
    for name in parse_remedies(cfg.remedy):
        if name not in REMEDIES:
            raise ConfigError("remedy", f"unknown remedy {name!r} (known: {', '.join(REMEDIES.names())})")


@dataclass
class Job:
    """A runnable method: config, data and a model recipe, plus builders for the core objects."""

    config: RunConfig
    dataset: Dataset
    model_factory: Callable[[], nn.Module]
    name: str = "run"

    @classmethod
    def from_config(
        cls,
        config: RunConfig,
        name: str = "run",
        dataset: Dataset | None = None,
        model: nn.Module | None = None,
    ) -> Job:
        """Resolve names, load the dataset (unless given) and fix the model recipe."""
        cfg = effective_config(config)
        check_names(cfg)
        if dataset is None:
            dataset = load_dataset(cfg.dataset, seed=cfg.data_seed, path=cfg.data_path)
        if model is not None:
            factory: Callable[[], nn.Module] = functools.partial(copy.deepcopy, model)
        else:
            factory = functools.partial(
                build_model, cfg.model, dataset.input_shape, dataset.num_classes, cfg.seed,
                hidden=tuple(cfg.hidden),
            )  # fmt: skip
            try:
                factory()
            except ValueError as err:
                raise ConfigError("model", str(err)) from None
        job = cls(cfg, dataset, factory, name)
        job.streams()  # fail now, not mid-run, on an impossible batch/partition
        from asyncsgd.engines import ENGINES  # engines import this module

        ENGINES.get(cfg.engine).check(job)
        return job

    # -- model and parameters ------------------------------------------------------------------
    def flat_model(self) -> FlatModel:
        return FlatModel(self.model_factory())

    def layout(self) -> FlatLayout:
        return self.flat_model().layout

    # -- algorithm core ------------------------------------------------------------------------
    def codec(self, layout: FlatLayout) -> Codec:
        cfg = self.config
        params: dict[str, object] = {}
        if cfg.codec in ("topk", "randomk"):
            params = {"ratio": cfg.ratio, "scope": cfg.scope}
            if cfg.codec == "randomk":
                params["unbiased"] = cfg.unbiased
        try:
            return make_codec(cfg.codec, layout, **params)
        except (ValueError, UnknownName) as err:
            raise ConfigError("codec", str(err)) from None

    def compressor(self, layout: FlatLayout) -> Compressor:
        return make_compressor(self.codec(layout), self.config.error_feedback)

    def rule(self) -> ServerRule:
        cfg = self.config
        opt_cls = OPTIMIZERS.get(cfg.rule)
        optimizer = (
            opt_cls(momentum=cfg.momentum, nesterov=cfg.nesterov)  # type: ignore[call-arg]
            if cfg.rule == "momentum"
            else opt_cls()
        )
        remedies = [REMEDIES.get(n)() for n in parse_remedies(cfg.remedy)]
        return ServerRule(optimizer, cfg.lr, remedies)

    def server(self, params: torch.Tensor, layout: FlatLayout, copy: bool = True) -> ParameterServer:
        return ParameterServer(params, self.codec(layout), self.rule(), self.config.learners, copy=copy)

    def learner(self, learner_id: int, flat: FlatModel) -> Learner:
        def grad_fn(x: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]):
            loss = flat.gradient(x, *batch)
            return loss, flat.grads

        return Learner(learner_id, self.compressor(flat.layout), grad_fn, self.config.seed)

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
        return cfg.batch_size * (cfg.learners if cfg.protocol == "sync" else 1)

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
