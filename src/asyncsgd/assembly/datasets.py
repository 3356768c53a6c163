"""Which data a config loads: the loader's settings, a key to cache loaded datasets by."""

from __future__ import annotations

from asyncsgd.config.schema import RunConfig
from asyncsgd.data import Dataset, load_dataset
from asyncsgd.data.split import hold_out
from asyncsgd.errors import ConfigError


def dataset_options(cfg: RunConfig) -> dict[str, object]:
    """Every setting a dataset loader reads; two configs with equal options load equal data."""
    return {
        "seed": cfg.data_seed, "path": cfg.data_path, "text_features": cfg.text_features,
        "text_vocab": cfg.text_vocab, "vocab_size": cfg.vocab_size, "max_tokens": cfg.max_tokens,
    }  # fmt: skip


def dataset_key(cfg: RunConfig) -> tuple:
    """A hashable identity of the data ``cfg`` trains on (for caching loaded datasets)."""
    return (cfg.dataset, *dataset_options(cfg).values())


def load_config_dataset(cfg: RunConfig) -> Dataset:
    return load_dataset(cfg.dataset, **dataset_options(cfg))  # type: ignore[arg-type]


def with_validation(cfg: RunConfig, dataset: Dataset) -> Dataset:
    """``dataset`` with the ``validation`` fraction of its training set held out (from ``data_seed``)."""
    try:
        return hold_out(dataset, cfg.validation, cfg.data_seed)
    except ValueError as err:
        raise ConfigError("validation", str(err)) from None
