"""Server-side update rules: optimizers and staleness remedies."""

from asyncsgd.rules import (  # noqa: F401  (fill the registries)
    adagrad,
    async_momentum,
    dc_asgd,
    drop_stale,
    sgd,
    staleness,
)
from asyncsgd.rules.base import (
    ELASTIC,
    GRADIENT,
    GRADIENT_SUM,
    OPTIMIZERS,
    PUSH_KINDS,
    REMEDIES,
    ApplyContext,
    Optimizer,
    Remedy,
    ServerRule,
)


def parse_remedies(spec: str) -> list[str]:
    """``"none"`` → ``[]``; ``"a+b"`` or ``"a,b"`` → ``["a", "b"]`` (applied in that order)."""
    names = [s.strip() for s in spec.replace(",", "+").split("+") if s.strip()]
    return [] if names in ([], ["none"]) else names


__all__ = [
    "ELASTIC",
    "GRADIENT",
    "GRADIENT_SUM",
    "OPTIMIZERS",
    "PUSH_KINDS",
    "REMEDIES",
    "ApplyContext",
    "Optimizer",
    "Remedy",
    "ServerRule",
    "parse_remedies",
]
