"""The parameter-server state machines: the server, its shards and the learner.

They stand above the vocabulary, the codecs and the rules, and use no threads, sockets, clocks,
files or Ray; engines decide when transitions happen and where tensors live.
"""

from asyncsgd.core.learner import Batch, GradFn, Learner
from asyncsgd.core.server import ParameterServer

__all__ = ["Batch", "GradFn", "Learner", "ParameterServer"]
