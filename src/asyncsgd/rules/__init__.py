"""Server-side update rules: optimizers and staleness remedies."""

from asyncsgd.rules import sgd, staleness  # noqa: F401  (fill the registries)
from asyncsgd.rules.base import (
    OPTIMIZERS,
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
    "OPTIMIZERS",
    "REMEDIES",
    "ApplyContext",
    "Optimizer",
    "Remedy",
    "ServerRule",
    "parse_remedies",
]
