"""asyncsgd: asynchronous parameter-server SGD, and the measurement and cure of staleness.

The API names are imported on first use (``asyncsgd.train`` imports torch then), so that
``import asyncsgd`` and the command line's ``--help`` stay fast and load nothing heavy.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncsgd.config import RunConfig
    from asyncsgd.core import ParameterServer
    from asyncsgd.data import Dataset
    from asyncsgd.errors import ConfigError
    from asyncsgd.experiment import compare, train
    from asyncsgd.vocabulary.flat import FlatModel

_WHERE = {
    "ConfigError": "asyncsgd.errors",
    "Dataset": "asyncsgd.data",
    "FlatModel": "asyncsgd.vocabulary.flat",
    "ParameterServer": "asyncsgd.core",
    "RunConfig": "asyncsgd.config",
    "compare": "asyncsgd.experiment",
    "train": "asyncsgd.experiment",
}
"""Each name of the API and the module that defines it."""

try:
    __version__ = metadata.version("asyncsgd")
except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = ["ConfigError", "Dataset", "FlatModel", "ParameterServer", "RunConfig", "__version__", "compare",
           "train"]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'asyncsgd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
