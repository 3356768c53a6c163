import numpy as np
import pytest
import torch

from asyncsgd.data import BatchStreams, load_dataset
from asyncsgd.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "shape", "n_train", "n_test"),
    [
        ("digits", (1, 8, 8), 1438, 359),
        ("mnist5k", (1, 28, 28), 4000, 1000),
        ("synthetic", (32,), 4096, 1024),
    ],
)
def test_registered_datasets_load_with_documented_shapes(name, shape, n_train, n_test):
    ds = load_dataset(name)
    assert ds.input_shape == shape
    assert (ds.n_train, int(ds.x_test.shape[0])) == (n_train, n_test)
    assert set(ds.y_train.unique().tolist()) == set(range(ds.num_classes))
    assert torch.isfinite(ds.x_train).all()


def test_split_is_stratified_and_seeded():
    a, b, c = (
        load_dataset("mnist5k", seed=0),
        load_dataset("mnist5k", seed=0),
        load_dataset("mnist5k", seed=1),
    )
    assert torch.equal(a.x_test, b.x_test) and not torch.equal(a.x_test, c.x_test)
    assert torch.bincount(a.y_test).tolist() == [100] * 10


def test_disjoint_shards_cover_the_training_set_once_per_pass():
    streams = BatchStreams(n_train=100, batch_size=5, num_learners=4, partition="disjoint", seed=0)
    seen = [np.concatenate([streams.next(i) for _ in range(5)]) for i in range(4)]
    assert all(np.unique(s).size == 25 for s in seen)
    assert np.unique(np.concatenate(seen)).size == 100


def test_shared_stream_is_consumed_in_request_order():
    streams = BatchStreams(n_train=30, batch_size=5, num_learners=3, partition="shared", seed=0)
    got = np.concatenate([streams.next(i % 3) for i in range(6)])
    assert np.unique(got).size == 30


def test_batch_larger_than_a_shard_is_refused():
    with pytest.raises(ValueError, match="batch_size 30 exceeds"):
        BatchStreams(n_train=100, batch_size=30, num_learners=4, partition="disjoint", seed=0)


def test_npz_dataset_from_user_file(tmp_path):
    path = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(20, 3)), y_train=rng.integers(0, 2, 20),
             x_test=rng.normal(size=(6, 3)), y_test=rng.integers(0, 2, 6))  # fmt: skip
    ds = load_dataset("npz", path=str(path))
    assert ds.input_shape == (3,) and ds.n_train == 20


@pytest.mark.parametrize(("path", "match"), [("", "needs data_path"), ("/nonexistent/x.npz", "no such file")])
def test_npz_dataset_errors_name_data_path(path, match):
    with pytest.raises(ConfigError, match=match) as err:
        load_dataset("npz", path=path)
    assert err.value.key == "data_path"


def test_npz_missing_array(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="lacks array 'y_train'"):
        load_dataset("npz", path=str(path))


def test_npz_classes_come_from_num_classes_or_the_largest_label(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(20, 3)), "y_train": np.arange(20) % 2,
              "x_test": rng.normal(size=(6, 3)), "y_test": np.zeros(6)}  # fmt: skip
    np.savez(tmp_path / "two.npz", **arrays)  # whole-valued float labels are taken as they are
    assert load_dataset("npz", path=str(tmp_path / "two.npz")).num_classes == 2
    np.savez(tmp_path / "five.npz", **arrays, num_classes=np.array(5))  # classes absent from the data
    ds = load_dataset("npz", path=str(tmp_path / "five.npz"))
    assert ds.num_classes == 5 and ds.y_test.dtype == torch.int64
