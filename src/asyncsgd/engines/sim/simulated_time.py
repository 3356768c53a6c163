"""Simulated time from a run's settings: compute-time draws per learner, the fixed-staleness model,
a recorded schedule to replay, and the link; each draw stream seeded from the run's seed."""

from __future__ import annotations

import numpy as np

from asyncsgd.assembly.checks import FIXED, TRACE, settings_of
from asyncsgd.config.schema import RunConfig
from asyncsgd.delays import (
    DELAYS,
    STALENESS,
    DelayModel,
    DelaySampler,
    Heterogeneous,
    LinkModel,
    StalenessModel,
)
from asyncsgd.delays.trace import TraceSchedule

DELAY_STREAM = 0xDE1A


def delay_model(cfg: RunConfig) -> DelayModel:
    if cfg.schedule == TRACE:
        return DELAYS.get("constant")(0.0)  # the schedule comes from the trace, not from delays
    cls = DELAYS.get(cfg.delay)
    base = cls(**settings_of(cls, cfg))
    if cfg.slow_learners:
        slow = range(cfg.learners - cfg.slow_learners, cfg.learners)
        return Heterogeneous(base, slow, cfg.slow_factor)
    return base


def delay_rng(cfg: RunConfig, learner: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([cfg.seed, learner, DELAY_STREAM]))


def delays(cfg: RunConfig) -> DelaySampler:
    """Compute-time draws for every learner, each from its own generator."""
    return DelaySampler(delay_model(cfg), [delay_rng(cfg, i) for i in range(cfg.learners)])


def staleness_model(cfg: RunConfig) -> StalenessModel | None:
    if cfg.schedule != FIXED:
        return None
    return STALENESS.get(cfg.staleness_dist)(cfg.staleness)


def trace_schedule(cfg: RunConfig) -> TraceSchedule | None:
    """The recorded schedule to replay (``schedule="trace"``), or None."""
    if cfg.schedule != TRACE:
        return None
    return TraceSchedule.load(cfg.trace)


def link(cfg: RunConfig) -> LinkModel:
    return LinkModel(cfg.latency, cfg.bandwidth)
