"""The pure algorithm core: flat parameters, messages, the parameter server and the learner.

Nothing here (nor in :mod:`asyncsgd.codecs` and :mod:`asyncsgd.rules`, the rest of the core)
uses threads, sockets, clocks, files or Ray; engines decide when transitions happen and where
tensors live.
"""

from asyncsgd.core.flat import FlatLayout, FlatModel, Segment
from asyncsgd.core.learner import Batch, GradFn, Learner
from asyncsgd.core.messages import ApplyRecord, Payload, Push, Rejection, Update
from asyncsgd.core.server import ParameterServer

__all__ = [
    "ApplyRecord",
    "Batch",
    "FlatLayout",
    "FlatModel",
    "GradFn",
    "Learner",
    "ParameterServer",
    "Payload",
    "Push",
    "Rejection",
    "Segment",
    "Update",
]
