"""Algorithms: what learners do in the generic cycle and what the server does with their pushes."""

from asyncsgd.algorithms.base import ALGORITHMS, Algorithm
from asyncsgd.algorithms.ssp import SSPGate
from asyncsgd.registry import import_modules

import_modules(__name__, __path__)  # each module registers its parts


def make_algorithm(name: str, **params: object) -> Algorithm:
    """Build the registered algorithm ``name`` with its own parameters."""
    return ALGORITHMS.get(name)(**params)


__all__ = ["ALGORITHMS", "Algorithm", "SSPGate", "make_algorithm"]
