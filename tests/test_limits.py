"""Every number a run takes has a range, and a run too big for the machine is refused before it is built."""

from __future__ import annotations

import math
import typing

import pytest
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.config.schema import Bounds, RunConfig
from asyncsgd.config.settings import declared
from asyncsgd.data import load_dataset
from asyncsgd.errors import ConfigError
from asyncsgd.models import MODELS, build_model
from asyncsgd.models.base import activations_per_sample, count_parameters
from asyncsgd.sizing import check_memory

GIB = 2**30


def test_every_numeric_setting_declares_its_range_and_shows_it_in_its_help():
    settings = declared()
    numeric = [
        s for s in settings.values() if s.type in (int, float, list[int]) or float in typing.get_args(s.type)
    ]
    assert len(numeric) > 40
    helps = RunConfig.help()
    for s in numeric:
        assert isinstance(s.bounds, Bounds), s.name
        assert helps[s.name].endswith(f"; range {s.bounds}"), s.name
        default = getattr(RunConfig(), s.name)
        assert all(v in s.bounds for v in (default if isinstance(default, list) else [default])), s.name


def test_bounds_read_as_written_and_never_hold_nan():
    assert str(Bounds(0, 1, low_open=True)) == "(0, 1]"
    assert str(Bounds(1, 2**63 - 1)) == "[1, 2^63-1]"
    assert str(Bounds(-(10**12), 10**12)) == "[-1e12, 1e12]"
    assert str(Bounds(0, math.inf)) == "[0, inf]"
    assert str(Bounds(0, 1e38, low_open=True)) == "(0, 1e38]"  # a float beyond its exact integers
    b = Bounds(0, 1, high_open=True)
    assert 0 in b and 0.5 in b and 1 not in b and math.nan not in b and 10**400 not in b


@pytest.mark.parametrize(("key", "value"), [
    ("learners", 4097), ("seed", -1), ("threads", 10**6), ("hidden", [16, 0]), ("lr", 1e308),
    ("epochs", 1e308),
])  # fmt: skip
def test_an_out_of_range_value_names_its_own_setting(key, value):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"updates": 1, "epochs": 0, key: value})
    assert err.value.key == key and "must be in" in err.value.message


@pytest.mark.parametrize(
    ("name", "shape", "options"),
    [("logreg", (32,), {}), ("mlp", (32,), {"hidden": (16, 8)}), ("lenet", (1, 28, 28), {}),
     ("cifar_cnn", (3, 32, 32), {}), ("resnet20", (3, 32, 32), {}),
     ("textbag", (12,), {"vocab_size": 50, "embed_dim": 8})],
)  # fmt: skip
def test_parameters_counted_on_the_meta_device_equal_the_built_model(name, shape, options):
    assert name in MODELS
    built = build_model(name, shape, 10, 0, **options)
    assert count_parameters(name, shape, 10, **options) == sum(p.numel() for p in built.parameters())
    before = built.training
    assert activations_per_sample(built, shape, tokens=name == "textbag") > 0
    assert built.training == before


def test_a_model_of_a_trillion_parameters_is_counted_without_allocating_it():
    assert (
        count_parameters("mlp", (32,), 4, hidden=(10**6, 10**6))
        == 32 * 10**6 + 10**12 + 4 * 10**6 + 10**6 * 2 + 4
    )


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic")


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"hidden": [10**7]}, "hidden"),                       # the model alone: 370 M parameters × 7 copies
     ({"hidden": [20_000], "learners": 1000}, "learners"),  # 0.74 M parameters × 3 copies × 1000
     ({"hidden": [20_000], "batch_size": 4096}, "batch_size")],  # 40 k activations × 4096 rows × 3
)  # fmt: skip
def test_a_run_bigger_than_memory_names_what_makes_it_big(synthetic, settings, key):
    cfg = RunConfig.from_dict({"dataset": "synthetic", "model": "mlp", "updates": 1, **settings})
    params = count_parameters("mlp", synthetic.input_shape, 4, hidden=tuple(cfg.hidden))
    acts = 2 * cfg.hidden[0] + 4
    with pytest.raises(ConfigError, match=r"this machine has 1\.0 GiB") as err:
        check_memory(cfg, synthetic, params, acts, memory=lambda: GIB)
    assert err.value.key == key
    check_memory(cfg, synthetic, params, acts, memory=lambda: 1024 * GIB)  # fits a big machine


def test_a_job_too_big_for_this_machine_fails_before_the_model_is_built(synthetic, monkeypatch):
    built = []
    monkeypatch.setattr(
        "asyncsgd.assembly.checks.build_model", lambda *a, **k: built.append(a) or torch.nn.Linear(1, 1)
    )
    cfg = RunConfig.from_dict({"dataset": "synthetic", "model": "mlp", "hidden": [10**6] * 3, "updates": 1})
    with pytest.raises(ConfigError, match="parameters") as err:
        Job.from_config(cfg, dataset=synthetic)
    assert err.value.key == "hidden" and not built
