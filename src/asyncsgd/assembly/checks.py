"""Checks of a config before anything is built: every name registered, settings valid together,
the device present, the model and its passes within memory; each failure a ConfigError naming the
setting to change."""

from __future__ import annotations

import math

import torch

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.algorithms.base import LOCAL_STEPS
from asyncsgd.algorithms.easgd import EXCHANGE_PERIOD
from asyncsgd.assembly.engines import ENGINES
from asyncsgd.codecs import CODECS
from asyncsgd.config.schema import RunConfig
from asyncsgd.data import DATASETS, PARTITIONS, TEXT_FEATURES, TEXT_VOCABS, Dataset
from asyncsgd.delays import DELAYS, STALENESS
from asyncsgd.delays.trace import TraceSchedule
from asyncsgd.errors import ConfigError
from asyncsgd.models import MODELS, build_model
from asyncsgd.models.base import activations_per_sample, count_parameters
from asyncsgd.rules import OPTIMIZERS, REMEDIES, parse_remedies
from asyncsgd.sizing import check_memory
from asyncsgd.theory import LIPSCHITZ, RATES
from asyncsgd.vocabulary.settings import names

FIXED, TRACE = "fixed", "trace"
"""The schedules (``schedule``) that do not come from compute times."""


def effective_config(cfg: RunConfig) -> RunConfig:
    """What a config really runs: ``protocol=sequential`` means one learner and no delay; a codec
    defined with error feedback (efsign, onebit, threshold, dropping) always runs with it."""
    if cfg.protocol == "sequential":
        cfg = cfg.replace(
            learners=1, schedule="compute", trace="", delay="constant", delay_mean=0.0, slow_learners=0,
            latency=0.0, server_time=0.0, bandwidth=math.inf,
        )  # fmt: skip
    if cfg.codec in CODECS and CODECS.get(cfg.codec).feedback and not cfg.error_feedback:
        cfg = cfg.replace(error_feedback=True)
    return cfg


def settings_of(factory: object, cfg: RunConfig) -> dict[str, object]:
    """The constructor keywords a registered part declares in ``settings``, read from ``cfg``."""
    return {key: getattr(cfg, key) for key in names(getattr(factory, "settings", ()))}


def check_combination(cfg: RunConfig) -> None:
    """Settings that are valid alone but not together (ConfigError naming the key to change)."""
    algo = ALGORITHMS.get(cfg.algorithm)
    if cfg.protocol not in algo.protocols:
        raise ConfigError(
            "protocol", f"algorithm {cfg.algorithm!r} runs under protocol {' or '.join(algo.protocols)}"
        )
    for steps in (LOCAL_STEPS, EXCHANGE_PERIOD):
        if getattr(cfg, steps.name) != steps.default and steps.name not in names(algo.settings):
            raise ConfigError(steps.name, f"algorithm {cfg.algorithm!r} does not take it ({steps.help})")
    if algo(**settings_of(algo, cfg)).server_optimizer() is not None and cfg.rule != "sgd":
        raise ConfigError("rule", f"algorithm {cfg.algorithm!r} sets the server's update; leave rule='sgd'")
    optimizer = OPTIMIZERS.get(cfg.rule)
    if algo.pushes not in optimizer.pushes and cfg.rule != "sgd":
        raise ConfigError("rule", f"rule {cfg.rule!r} is not defined for {cfg.algorithm!r} pushes")
    if cfg.protocol not in optimizer.protocols:
        raise ConfigError(
            "rule",
            f"rule {cfg.rule!r} runs under protocol {' or '.join(optimizer.protocols)}, not {cfg.protocol!r}",
        )
    for name in parse_remedies(cfg.remedy):
        remedy = REMEDIES.get(name)
        if algo.pushes not in remedy.pushes:
            raise ConfigError(
                "remedy", f"remedy {name!r} needs {' or '.join(sorted(remedy.pushes))} pushes; "
                f"algorithm {cfg.algorithm!r} pushes a {algo.pushes}",
            )  # fmt: skip
    if cfg.ssp_bound >= 0 and (cfg.protocol == "sync" or cfg.schedule == FIXED):
        raise ConfigError("ssp_bound", "bounded staleness gates asynchronous learners: protocol='async', "
                          "and a schedule other than 'fixed'")  # fmt: skip


def check_names(cfg: RunConfig) -> None:
    """Every name in ``cfg`` refers to something registered (ConfigError naming the key if not)."""

    def known(key: str, options: object) -> None:
        value = getattr(cfg, key)
        if value not in options:  # type: ignore[operator]
            listed = ", ".join(options.names() if hasattr(options, "names") else options)  # type: ignore[attr-defined]
            raise ConfigError(key, f"unknown {key} {value!r} (known: {listed})")

    known("engine", ENGINES)
    known("dataset", DATASETS)
    known("model", MODELS)
    known("rule", OPTIMIZERS)
    known("codec", CODECS)
    known("partition", PARTITIONS)
    known("text_features", TEXT_FEATURES)
    known("text_vocab", TEXT_VOCABS)
    known("delay", DELAYS)
    if (cfg.schedule == TRACE) != bool(cfg.trace):
        raise ConfigError("trace", "replay a trace with schedule='trace' and trace='DIR', both or neither")
    if cfg.schedule == TRACE:
        if cfg.protocol != "async":
            raise ConfigError("schedule", "a trace replays asynchronous pushes; it needs protocol='async'")
        try:
            schedule = TraceSchedule.load(cfg.trace)
        except ValueError as err:
            raise ConfigError("trace", str(err)) from None
        if schedule.learners > cfg.learners:
            raise ConfigError(
                "learners", f"the trace has {schedule.learners} learners, the config {cfg.learners}"
            )
    elif cfg.schedule == FIXED:
        known("staleness_dist", STALENESS)
        if cfg.protocol != "async":
            raise ConfigError("schedule", f"schedule={FIXED!r} draws τ directly; it needs protocol='async'")
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
