"""Datasets the user supplies as files.

A ``.npz`` file may have been sent by anyone, so it is read as data only: no pickles (object
arrays are refused), each array's header (dtype, shape) is checked before its data is read, and
the arrays are validated (shapes, finite features, whole labels in 0..C-1) before training starts.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from asyncsgd.data.base import ARRAY_NAMES, DATASETS, Dataset
from asyncsgd.errors import ConfigError

NPZ_KEYS = ARRAY_NAMES
CLASSES_KEY = "num_classes"
READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error)
"""What a truncated, corrupted (bad CRC) or forged archive member raises when read."""
MAX_ARRAY_BYTES = 2**36
"""Largest array read from a .npz file (64 GiB; a bigger header is a corrupt or hostile file)."""


def _header(z: zipfile.ZipFile, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of array ``key`` from its header alone (its data is not read)."""
    with z.open(f"{key}.npy") as f:
        version = npy.read_magic(f)
        readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f".npy format version {version} (numpy.savez writes 1.0 or 2.0)")
        shape, _fortran, dtype = readers[version](f)
    return shape, dtype


def _read(file: Path) -> tuple[list[np.ndarray], int | None]:
    """The four arrays (and ``num_classes`` when the file has it); ValueError naming the array."""
    try:
        z = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        with file.open("rb") as f:
            npy_file = f.read(len(npy.MAGIC_PREFIX)) == npy.MAGIC_PREFIX
        if npy_file:
            raise ValueError("is a single .npy array; save the four arrays with numpy.savez") from None
        raise ValueError("is not a .npz archive (not a zip file, or truncated)") from None
    with z:
        names = {n.removesuffix(".npy") for n in z.namelist()}
        missing = [k for k in NPZ_KEYS if k not in names]
        if missing:
            raise ValueError(f"lacks array {missing[0]!r} (needs {', '.join(NPZ_KEYS)})")
        wanted = [*NPZ_KEYS, *([CLASSES_KEY] if CLASSES_KEY in names else [])]
        for key in wanted:
            try:
                shape, dtype = _header(z, key)
            except READ_ERRORS as err:
                raise ValueError(f"{key}: cannot be read ({err})") from None
            if dtype.hasobject:
                raise ValueError(f"{key}: holds Python objects (dtype {dtype}); only numeric arrays are read")
            size = dtype.itemsize * int(np.prod(shape, dtype=np.float64))
            if size > MAX_ARRAY_BYTES:
                raise ValueError(f"{key}: its header claims {size / 2**30:,.0f} GiB (shape {shape})")
    with np.load(file, allow_pickle=False) as data:
        arrays = []
        for key in wanted:
            try:
                arrays.append(data[key])
            except READ_ERRORS as err:
                raise ValueError(f"{key}: cannot be read ({err})") from None
    classes = None
    if len(arrays) > len(NPZ_KEYS):
        c = arrays.pop()
        if c.shape not in ((), (1,)) or c.dtype.kind not in "iu":
            raise ValueError(f"{CLASSES_KEY}: must be one integer, got {c.dtype} of shape {c.shape}")
        classes = int(c.reshape(()))
    return arrays, classes


@DATASETS.register(
    "npz",
    "a user .npz file (data_path) with x_train, y_train, x_test, y_test (labels 0..C-1; C is "
    "num_classes if the file has it, else 1 + the largest label)",
)
def npz(path: str = "", **_: object) -> Dataset:
    if not path:
        raise ConfigError(
            "data_path", "dataset 'npz' needs data_path, a .npz file with " + ", ".join(NPZ_KEYS)
        )
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError("data_path", f"{file} is a directory, not a .npz file")
    if not file.is_file():
        raise ConfigError("data_path", f"no such file: {file}")
    try:
        arrays, classes = _read(file)
        return Dataset.from_arrays(file.stem, *arrays, num_classes=classes, source=str(file))
    except OSError as err:
        raise ConfigError("data_path", f"{file}: cannot read ({err.strerror or err})") from None
    except ValueError as err:
        raise ConfigError("data_path", f"{file}: {err}") from None
