"""Algorithms: what learners do in the generic cycle and what the server does with their pushes."""

from asyncsgd.algorithms import downpour, easgd, localsgd  # noqa: F401  (fill the registry)
from asyncsgd.algorithms.base import ALGORITHMS, Algorithm
from asyncsgd.algorithms.ssp import SSPGate


def make_algorithm(name: str, **params: object) -> Algorithm:
    """Build the registered algorithm ``name`` with its own parameters."""
    return ALGORITHMS.get(name)(**params)


__all__ = ["ALGORITHMS", "Algorithm", "SSPGate", "make_algorithm"]
