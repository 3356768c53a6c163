"""Timing models for the simulator: compute delays, fixed staleness, and links."""

from asyncsgd.delays.comm import LinkModel
from asyncsgd.delays.models import (
    DELAYS,
    STALENESS,
    Constant,
    DelayModel,
    DelaySampler,
    Exponential,
    Heterogeneous,
    LogNormal,
    StalenessModel,
)

__all__ = [
    "DELAYS",
    "STALENESS",
    "Constant",
    "DelayModel",
    "DelaySampler",
    "Exponential",
    "Heterogeneous",
    "LinkModel",
    "LogNormal",
    "StalenessModel",
]
