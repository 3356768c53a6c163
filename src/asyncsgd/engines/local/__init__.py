"""The ``local`` engine: learner processes and a sharded parameter server in shared memory."""

from asyncsgd.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
