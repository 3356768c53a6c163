"""Dataset registry (real sets shipped in packages or provided by the user, a synthetic task) and batching."""

from asyncsgd.data import cifar, corpora, files, images, synthetic  # noqa: F401  (fill the registry)
from asyncsgd.data.base import DATASETS, PAD_ID, Dataset
from asyncsgd.data.streams import PARTITIONS, BatchStreams
from asyncsgd.data.text import TEXT_FEATURES, TEXT_VOCABS, TextOptions


def load_dataset(name: str, *, seed: int = 0, path: str = "", **options: object) -> Dataset:
    """Load the registered dataset ``name``: ``seed`` fixes its train/test split where it has none,
    ``path`` points at user files, ``options`` are dataset settings (e.g. the text pipeline's)."""
    return DATASETS.get(name)(seed=seed, path=path, **options)


__all__ = [
    "DATASETS",
    "PAD_ID",
    "PARTITIONS",
    "TEXT_FEATURES",
    "TEXT_VOCABS",
    "BatchStreams",
    "Dataset",
    "TextOptions",
    "load_dataset",
]
