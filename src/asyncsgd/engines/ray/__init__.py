"""The ``ray`` engine: learner and parameter-server shard actors on a Ray cluster.

Importing this package registers the engine; Ray itself is imported only when a run starts.
"""

from asyncsgd.engines.ray.engine import RayEngine

__all__ = ["RayEngine"]
