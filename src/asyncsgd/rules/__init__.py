"""Server-side update rules: optimizers and staleness remedies."""

from asyncsgd.registry import import_modules
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

import_modules(__name__, __path__)  # each module registers its parts


def parse_remedies(spec: str) -> list[str]:
    """``"none"`` → ``[]``; ``"a+b"`` or ``"a,b"`` → ``["a", "b"]`` (applied in that order).

    A chain with an empty link (``"a+"``, ``"+a"``, ``"a++b"``, ``""``) is a ValueError: it is
    a typo more often than a wish, and silently dropping the link would run another rule.
    """
    names = [s.strip() for s in spec.replace(",", "+").split("+")]
    if not all(names):
        raise ValueError(f"{spec!r} has an empty remedy in its chain (write 'none', or 'a+b')")
    if "none" in names and len(names) > 1:
        raise ValueError(f"{spec!r} chains 'none' with other remedies")
    return [] if names == ["none"] else names


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
