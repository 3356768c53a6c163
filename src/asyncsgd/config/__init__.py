"""Settings: the typed run config, experiments of several methods, TOML in and out."""

from asyncsgd.config.files import (
    Experiment,
    Method,
    build_experiment,
    dump_experiment,
    dump_toml,
    load_experiment,
    parse_overrides,
)
from asyncsgd.config.schema import RunConfig

__all__ = [
    "Experiment",
    "Method",
    "RunConfig",
    "build_experiment",
    "dump_experiment",
    "dump_toml",
    "load_experiment",
    "parse_overrides",
]
