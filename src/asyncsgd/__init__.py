"""asyncsgd: asynchronous parameter-server SGD, and the measurement and cure of staleness."""

from asyncsgd.config import RunConfig
from asyncsgd.core import ParameterServer
from asyncsgd.data import Dataset
from asyncsgd.errors import ConfigError
from asyncsgd.experiment import compare, train
from asyncsgd.vocabulary.flat import FlatModel

__all__ = ["ConfigError", "Dataset", "FlatModel", "ParameterServer", "RunConfig", "compare", "train"]
