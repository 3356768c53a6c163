"""One record per remedy or optimizer configuration: test_battery.py runs every generic check on all."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RuleRecord:
    kind: str
    """``remedy`` or ``optimizer``."""
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    bad_params: tuple[dict[str, Any], ...] = ()
    """Each must raise a ValueError whose message names one of its keys."""
    neutral_taus: tuple[int, ...] | None = None
    """With these parameters, a push of any of these staleness values is applied exactly as plain
    SGD applies it (bit for bit); ``None``: no such case."""
    neutral_bitwise: bool = True
    """The neutral case is exact bit for bit; otherwise up to float rounding (momentum forms
    ``γ·(s·v)`` where SGD forms ``(γ·s)·v`` for a push ``s·v`` with a lazy scale ``s``)."""
    memory: str = "0"
    """Server memory in bytes as an expression of ``d`` (parameters) and ``p`` (learners)."""

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}" + "".join(f"-{k}={v}" for k, v in self.params.items())


ANY_TAU = (0, 1, 2, 5, 40)

RECORDS = [
    RuleRecord("remedy", "staleness_lr", neutral_taus=(0, 1)),
    RuleRecord("remedy", "staleness_lr_plus1", neutral_taus=(0,)),
    RuleRecord(
        "remedy", "drop_stale", {"stale_bound": math.inf}, ({"stale_bound": -1},), neutral_taus=ANY_TAU
    ),
    RuleRecord("remedy", "drop_stale", {"stale_bound": 2}, neutral_taus=(0, 1, 2)),
    RuleRecord(
        "remedy",
        "dc_asgd",
        {"dc_lambda": 0.0},
        ({"dc_lambda": -0.1}, {"dc_lambda": math.nan}),
        neutral_taus=ANY_TAU,
        memory="4 * p * d",
    ),
    RuleRecord("remedy", "dc_asgd", {"dc_lambda": 0.5}, memory="4 * p * d"),
    RuleRecord(
        "remedy",
        "dc_asgd_adaptive",
        {"dc_lambda": 0.0, "dc_momentum": 0.9},
        ({"dc_lambda": -2.0}, {"dc_momentum": 1.0}, {"dc_momentum": -0.5}),
        neutral_taus=ANY_TAU,
        memory="4 * p * d + 4 * d",
    ),
    RuleRecord(
        "remedy", "dc_asgd_adaptive", {"dc_lambda": 2.0, "dc_momentum": 0.95}, memory="4 * p * d + 4 * d"
    ),
    RuleRecord("optimizer", "sgd", neutral_taus=ANY_TAU),
    RuleRecord(
        "optimizer",
        "momentum",
        {"momentum": 0.0},
        ({"momentum": 1.0}, {"momentum": -0.1}),
        neutral_taus=ANY_TAU,
        neutral_bitwise=False,
        memory="4 * d",
    ),
    RuleRecord("optimizer", "momentum", {"momentum": 0.9, "nesterov": True}, memory="4 * d"),
    RuleRecord(
        "optimizer",
        "async_momentum",
        {"momentum": 0.9, "learners": 10},
        ({"learners": 0}, {"momentum": 1.5}),
        neutral_taus=ANY_TAU,
        neutral_bitwise=False,
        memory="4 * d",
    ),
    RuleRecord("optimizer", "async_momentum", {"momentum": 0.9, "learners": 2}, memory="4 * d"),
    RuleRecord(
        "optimizer",
        "adagrad",
        {"adagrad_eps": 1e-10},
        ({"adagrad_eps": 0.0}, {"adagrad_eps": -1.0}),
        memory="4 * d",
    ),
]
