"""Datasets the user supplies as files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asyncsgd.data.base import DATASETS, Dataset
from asyncsgd.errors import ConfigError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@DATASETS.register("npz", "a user .npz file (data_path) with x_train, y_train, x_test, y_test")
def npz(path: str = "", **_: object) -> Dataset:
    if not path:
        raise ConfigError(
            "data_path", "dataset 'npz' needs data_path, a .npz file with " + ", ".join(NPZ_KEYS)
        )
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError("data_path", f"no such file: {file}")
    try:
        with np.load(file, allow_pickle=False) as z:
            missing = [k for k in NPZ_KEYS if k not in z.files]
            if missing:
                raise ConfigError("data_path", f"{file} lacks array {missing[0]!r}")
            arrays = [z[k] for k in NPZ_KEYS]
    except (OSError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError("data_path", f"cannot read {file} as .npz ({err})") from None
    try:
        return Dataset.from_arrays(file.stem, *arrays, source=str(file))
    except ValueError as err:
        raise ConfigError("data_path", f"{file}: {err}") from None
