"""CIFAR-10 from a copy the user provides, in the standard "python version" layout.

No package ships CIFAR-10, so ``data_path`` names one of: the archive ``cifar-10-python.tar.gz``,
the directory holding it (or holding the extracted folder), or the extracted
``cifar-10-batches-py/`` itself (default: ``./data``). Every file is checked against the
published md5 sums before it is unpickled, so only a genuine copy loads and a corrupted file is
named. Each batch is a pickled dict whose ``data`` is ``(n, 3072)`` uint8: 1024 red, then 1024
green, then 1024 blue values, each plane a row-major 32×32 image; ``labels`` are 0–9.

Inputs are scaled to [0, 1] and standardised per channel with the train split's mean and standard
deviation; the split is the official 50,000 / 10,000.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from asyncsgd.data.base import DATASETS, Dataset
from asyncsgd.errors import ConfigError

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
DEFAULT_DIR = "data"
IMAGE_SHAPE = (3, 32, 32)


@dataclass(frozen=True)
class Checksums:
    """md5 of the archive and of each file in the extracted folder."""

    archive: str
    files: Mapping[str, str]


CIFAR10_MD5 = Checksums(
    archive="c58f30108f718f92721af3b95e74349a",
    files={
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
)
"""The published sums of the CIFAR-10 python version."""

_WHERE = (
    f"put {ARCHIVE} (the python version from the CIFAR-10 page) in ./{DEFAULT_DIR}/, or set data_path "
    f"to that file, its directory, or the extracted {FOLDER}/"
)


@dataclass(frozen=True)
class CifarArrays:
    """Raw CIFAR-10: uint8 images ``(N, 3, 32, 32)``, int64 labels, and the class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    label_names: list[str]


class _BatchUnpickler(pickle.Unpickler):
    """Rebuilds only numpy arrays and plain containers: a batch file cannot run code."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def md5(stream: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _mismatch(where: str, got: str, want: str) -> ConfigError:
    return ConfigError(
        "data_path",
        f"{where}: md5 {got} differs from the published {want}; the file is corrupted or not the "
        "original CIFAR-10 python version",
    )


def locate(path: str | Path) -> Path:
    """The archive or the extracted folder that ``path`` points at (ConfigError if neither)."""
    given = Path(path or DEFAULT_DIR).expanduser()
    if given.is_file():
        return given
    if given.is_dir():
        if (given / TRAIN_FILES[0]).exists() or (given / META_FILE).exists():
            return given
        for candidate in (given / FOLDER, given / ARCHIVE):
            if candidate.exists():
                return candidate
    raise ConfigError("data_path", f"cifar10: no copy of CIFAR-10 at {given}; {_WHERE}")


def _read_files(where: Path, checksums: Checksums) -> dict[str, bytes]:
    """The verified bytes of every file, from the archive or the folder."""
    names = [*TRAIN_FILES, TEST_FILE, META_FILE]
    out: dict[str, bytes] = {}
    if where.is_file():
        with where.open("rb") as f:
            got = md5(f)
        if got != checksums.archive:
            raise _mismatch(str(where), got, checksums.archive)
        try:
            with tarfile.open(where, "r:gz") as tar:
                for name in names:
                    member = tar.extractfile(f"{FOLDER}/{name}")
                    if member is None:
                        raise KeyError(name)
                    out[name] = member.read()
        except KeyError as err:
            raise ConfigError("data_path", f"{where}: no {FOLDER}/{err.args[0]} inside") from None
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ConfigError("data_path", f"{where}: not a readable tar.gz ({err})") from None
        return out
    for name in names:
        file = where / name
        if not file.is_file():
            raise ConfigError("data_path", f"{where}: missing {name}; {_WHERE}")
        data = file.read_bytes()
        got = md5(io.BytesIO(data))
        if got != checksums.files[name]:
            raise _mismatch(str(file), got, checksums.files[name])
        out[name] = data
    return out


def _unpickle(data: bytes, where: str) -> dict[bytes, Any]:
    try:
        value = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:
        raise ConfigError("data_path", f"{where}: not a CIFAR-10 batch ({err})") from None
    if not isinstance(value, dict):
        raise ConfigError("data_path", f"{where}: not a CIFAR-10 batch (a {type(value).__name__})")
    return value


def _batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(data, where)
    try:
        x = np.asarray(d[b"data"], dtype=np.uint8)
        y = np.asarray(d[b"labels"], dtype=np.int64)
    except KeyError as err:
        raise ConfigError("data_path", f"{where}: batch lacks {err.args[0]!r}") from None
    if (
        x.ndim != 2
        or x.shape[1] != 3072
        or y.shape != (x.shape[0],)
        or (y.size and not 0 <= y.min() <= y.max() < 10)
    ):
        raise ConfigError("data_path", f"{where}: expected (n, 3072) uint8 data and n labels in 0..9")
    return x.reshape(-1, *IMAGE_SHAPE), y


def read_cifar10(path: str | Path, checksums: Checksums = CIFAR10_MD5) -> CifarArrays:
    """Verify and decode the copy at ``path`` (see :func:`locate`) against ``checksums``."""
    where = locate(path)
    files = _read_files(where, checksums)
    train = [_batch(files[n], f"{where}:{n}") for n in TRAIN_FILES]
    x_test, y_test = _batch(files[TEST_FILE], f"{where}:{TEST_FILE}")
    meta = _unpickle(files[META_FILE], f"{where}:{META_FILE}")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"label_names", [])]
    return CifarArrays(
        np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test, names
    )


def standardize_channels(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(N, C, H, W)`` → float32, scaled to [0, 1] and standardised per channel (train stats)."""
    xtr = train.astype(np.float32) / 255.0
    xte = test.astype(np.float32) / 255.0
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    std = xtr.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    std[std == 0] = 1.0
    xtr -= mean
    xtr /= std
    xte -= mean
    xte /= std
    return xtr, xte


def cifar10_dataset(path: str | Path, checksums: Checksums = CIFAR10_MD5) -> Dataset:
    raw = read_cifar10(path, checksums)
    xtr, xte = standardize_channels(raw.x_train, raw.x_test)
    return Dataset.from_arrays("cifar10", xtr, raw.y_train, xte, raw.y_test, 10, source=str(locate(path)))


@DATASETS.register(
    "cifar10", "CIFAR-10: 50,000 / 10,000 32×32 colour images, 10 classes (your copy: data_path)"
)
def cifar10(path: str = "", **_: object) -> Dataset:
    return cifar10_dataset(path)
