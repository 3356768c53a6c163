"""Dataset registry (real sets shipped in packages, user files, a synthetic task) and batching."""

from asyncsgd.data import files, images, synthetic  # noqa: F401  (fill the registry)
from asyncsgd.data.base import DATASETS, Dataset
from asyncsgd.data.streams import PARTITIONS, BatchStreams


def load_dataset(name: str, *, seed: int = 0, path: str = "") -> Dataset:
    """Load the registered dataset ``name`` (``seed`` fixes its train/test split)."""
    return DATASETS.get(name)(seed=seed, path=path)


__all__ = ["DATASETS", "PARTITIONS", "BatchStreams", "Dataset", "load_dataset"]
