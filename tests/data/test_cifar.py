"""CIFAR-10 from a user copy, on small synthetic files written in the exact python-version layout."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from asyncsgd.data import load_dataset
from asyncsgd.data.cifar import (
    ARCHIVE,
    CIFAR10_MD5,
    FOLDER,
    META_FILE,
    TEST_FILE,
    TRAIN_FILES,
    Checksums,
    cifar10_dataset,
    read_cifar10,
)
from asyncsgd.errors import ConfigError

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _pickle(obj: object) -> bytes:
    # The published files are Python 2 pickles (protocol 2) of numpy 1.x arrays.
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


@dataclass
class Copy:
    root: Path
    folder: Path
    archive: Path
    sums: Checksums
    x_train: np.ndarray  # (N, 3072) rows as written
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def write_copy(root: Path, per_batch: int = 3, n_test: int = 4) -> Copy:
    rng = np.random.default_rng(7)
    folder = root / FOLDER
    folder.mkdir(parents=True)
    rows, labels = [], []
    for name in (*TRAIN_FILES, TEST_FILE):
        n = n_test if name == TEST_FILE else per_batch
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).tolist()
        rows.append(data)
        labels.append(y)
        batch = {b"batch_label": name.encode(), b"labels": y, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(n)]}  # fmt: skip
        (folder / name).write_bytes(_pickle(batch))
    meta = {b"num_cases_per_batch": per_batch, b"label_names": [n.encode() for n in NAMES], b"num_vis": 3072}
    (folder / META_FILE).write_bytes(_pickle(meta))
    (folder / "readme.html").write_text("<html></html>")
    archive = root / ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER)
    sums = Checksums(
        hashlib.md5(archive.read_bytes()).hexdigest(),
        {
            f.name: hashlib.md5(f.read_bytes()).hexdigest()
            for f in folder.iterdir()
            if f.name != "readme.html"
        },
    )
    return Copy(root, folder, archive, sums, np.concatenate(rows[:5]), np.concatenate(labels[:5]),
                rows[5], np.array(labels[5]))  # fmt: skip


@pytest.fixture
def copy(tmp_path) -> Copy:
    return write_copy(tmp_path / "user")


def test_archive_folder_and_parent_give_identical_arrays(copy, tmp_path):
    only_archive = tmp_path / "only-archive"
    only_archive.mkdir()
    os.link(copy.archive, only_archive / ARCHIVE)
    reads = [read_cifar10(p, copy.sums) for p in (copy.archive, copy.folder, copy.root, only_archive)]
    for r in reads:
        assert r.x_train.shape == (15, 3, 32, 32) and r.x_train.dtype == np.uint8
        np.testing.assert_array_equal(r.x_train.reshape(15, 3072), copy.x_train)
        np.testing.assert_array_equal(r.y_train, copy.y_train)
        np.testing.assert_array_equal(r.x_test.reshape(4, 3072), copy.x_test)
        np.testing.assert_array_equal(r.y_test, copy.y_test)
        assert r.label_names == NAMES


def test_rows_are_red_then_green_then_blue_planes_in_row_major_order(copy):
    r = read_cifar10(copy.folder, copy.sums)
    row = copy.x_train[4]  # second image of data_batch_2: batches are concatenated in order
    np.testing.assert_array_equal(r.x_train[4, 0], row[:1024].reshape(32, 32))
    np.testing.assert_array_equal(r.x_train[4, 1], row[1024:2048].reshape(32, 32))
    np.testing.assert_array_equal(r.x_train[4, 2], row[2048:].reshape(32, 32))
    assert r.x_train[4, 0, 1, 0] == row[32]  # the first pixel of the second row of the red plane


def test_published_sums_reject_a_copy_that_is_not_the_original(copy):
    with pytest.raises(
        ConfigError, match=r"data_batch_1: md5 [0-9a-f]{32} differs from the published"
    ) as err:
        load_dataset("cifar10", path=str(copy.folder))
    assert err.value.key == "data_path" and CIFAR10_MD5.files["data_batch_1"] in str(err.value)
    with pytest.raises(ConfigError, match=rf"{ARCHIVE}: md5 .* published {CIFAR10_MD5.archive}"):
        load_dataset("cifar10", path=str(copy.archive))


@pytest.mark.parametrize("target", ["data_batch_3", "archive"])
def test_a_corrupted_file_is_named(copy, target):
    path = copy.archive if target == "archive" else copy.folder / target
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=rf"{path.name}: md5 .* corrupted"):
        read_cifar10(path if target == "archive" else copy.folder, copy.sums)


def test_missing_copy_says_where_to_put_it(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=rf"no copy of CIFAR-10 at .*nowhere; put {ARCHIVE}") as err:
        load_dataset("cifar10", path=str(tmp_path / "nowhere"))
    assert err.value.key == "data_path" and len(str(err.value).splitlines()) == 1
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"at data; put .* in \./data/"):
        load_dataset("cifar10")


def test_a_missing_batch_is_named(copy):
    (copy.folder / TEST_FILE).unlink()
    with pytest.raises(ConfigError, match="missing test_batch"):
        read_cifar10(copy.folder, copy.sums)


def test_a_batch_that_would_run_code_is_refused(copy):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    path = copy.folder / "data_batch_2"
    path.write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    sums = Checksums(
        copy.sums.archive, {**copy.sums.files, "data_batch_2": hashlib.md5(path.read_bytes()).hexdigest()}
    )
    with pytest.raises(ConfigError, match=r"data_batch_2: not a CIFAR-10 batch \(unexpected object"):
        read_cifar10(copy.folder, sums)


def test_dataset_is_standardised_per_channel_with_train_statistics(copy):
    ds = cifar10_dataset(copy.archive, copy.sums)
    assert ds.name == "cifar10" and ds.num_classes == 10 and ds.input_shape == (3, 32, 32)
    assert (ds.n_train, int(ds.x_test.shape[0])) == (15, 4)
    per_channel = ds.x_train.double()
    assert per_channel.mean(dim=(0, 2, 3)).abs().max() < 1e-5
    assert (per_channel.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4
    raw = read_cifar10(copy.folder, copy.sums).x_train.astype(np.float64) / 255
    mean = raw.mean(axis=(0, 2, 3))[0]
    std = raw.std(axis=(0, 2, 3))[0]
    assert float(ds.x_train[0, 0, 0, 0]) == pytest.approx((raw[0, 0, 0, 0] - mean) / std, rel=1e-5)
