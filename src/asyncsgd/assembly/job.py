"""The :class:`Job`: everything an engine needs, in a form that can be shipped to other processes
(the config, the dataset, and a factory that rebuilds the same initial model). Its builders return
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
from asyncsgd.assembly.auto_lr import EstimatesCache, resolve_auto_lr
from asyncsgd.assembly.checks import (
    check_combination,
    check_device,
    check_model_fits,
    check_names,
    effective_config,
    settings_of,
)
from asyncsgd.assembly.datasets import load_config_dataset, with_validation
from asyncsgd.assembly.engines import ENGINES
from asyncsgd.codecs import CODECS, Codec, Compressor, make_codec, make_compressor
from asyncsgd.config.schema import AUTO_LR, RunConfig
from asyncsgd.core.learner import Learner
from asyncsgd.core.server import ParameterServer
from asyncsgd.data import BatchStreams, Dataset
from asyncsgd.errors import ConfigError
from asyncsgd.models import build_model
from asyncsgd.registry import UnknownName
from asyncsgd.rules import OPTIMIZERS, REMEDIES, Optimizer, Remedy, ServerRule, parse_remedies
from asyncsgd.vocabulary.flat import FlatLayout, FlatModel

EVALS_PER_RUN = 25


@dataclass(frozen=True)
class Budget:
    """A run's budget: it is spent once the server has counted ``updates`` updates or ``samples``
    samples (None: no such limit). The one check every engine makes, wherever its server counts."""

    updates: int | None
    samples: int | None

    def reached(self, updates: int, samples: int) -> bool:
        if self.updates is not None and updates >= self.updates:
            return True
        return self.samples is not None and samples >= self.samples


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

        ``lr = "auto"`` is replaced by the predicted rate (:mod:`asyncsgd.assembly.auto_lr`);
        ``estimates`` shares the measured constants between jobs with the same data, model and probe.
        """
        cfg = effective_config(config)
        check_names(cfg)
        check_combination(cfg)
        engine = ENGINES.get(cfg.engine)
        if dataset is None:
            dataset = load_config_dataset(cfg)
        dataset = with_validation(cfg, dataset)  # before anything reads the training set
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
            resolve_auto_lr(job, estimates)
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

    @property
    def budget(self) -> Budget:
        return Budget(self.max_updates, self.max_samples)

    def budget_reached(self, updates: int, samples: int) -> bool:
        return self.budget.reached(updates, samples)
