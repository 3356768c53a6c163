"""The ``device`` setting: the learners' passes run in a device mirror of the host buffers.

This machine has no accelerator, so the mirror path is exercised on the host (``FlatModel.mirrors``
forced on): it must give the direct path's numbers bit for bit, because only where the passes run
changes. Tests on a real accelerator run where one exists.
"""

from __future__ import annotations

import pytest
import torch

from asyncsgd.assembly.checks import check_device
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.metrics import params_sha256
from asyncsgd.models import build_model
from asyncsgd.vocabulary.flat import FlatModel
from tests.conftest import run_sim

HAS_ACCELERATOR = torch.accelerator.current_accelerator() is not None


@pytest.fixture
def mirrored(monkeypatch):
    monkeypatch.setattr(FlatModel, "mirrors", staticmethod(lambda device: True))


@pytest.mark.parametrize("model", ["lenet", "resnet20"])
def test_mirror_gives_the_direct_gradient_and_evaluation(model, monkeypatch):
    shape = (1, 8, 8) if model == "lenet" else (3, 8, 8)
    direct = FlatModel(build_model(model, shape, 10, seed=1))
    monkeypatch.setattr(FlatModel, "mirrors", staticmethod(lambda device: True))
    mirror = FlatModel(build_model(model, shape, 10, seed=1))
    assert mirror._compute_params.data_ptr() != mirror.params.data_ptr()
    x, y = torch.randn(6, *shape), torch.randint(0, 10, (6,))
    point = direct.params + 0.01
    assert direct.gradient(point, x, y) == mirror.gradient(point, x, y)
    assert torch.equal(direct.grads, mirror.grads)
    assert direct.evaluate(point, x, y) == mirror.evaluate(point, x, y)


def test_mirror_follows_in_place_changes_of_the_host_buffer(mirrored):
    flat = FlatModel(build_model("logreg", (4,), 3, seed=0))
    x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
    before = flat.gradient(flat.params, x, y)
    step = torch.linspace(-1, 1, flat.size)
    flat.params.add_(step)  # what the simulator's server does to the shared buffer
    after = flat.gradient(flat.params, x, y)
    assert before != after
    reference = FlatModel(build_model("logreg", (4,), 3, seed=0))
    assert after == reference.gradient(reference.params + step, x, y)


def test_simulated_run_with_mirrored_learners_is_bit_identical(job_factory, monkeypatch):
    settings = {"learners": 3, "updates": 40, "codec": "topk", "ratio": 0.2, "error_feedback": True}
    plain, _ = run_sim(job_factory(**settings))
    monkeypatch.setattr(FlatModel, "mirrors", staticmethod(lambda device: True))
    mirrored_run, _ = run_sim(job_factory(**settings))
    assert params_sha256(plain.params) == params_sha256(mirrored_run.params)


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "CPU", ""])
def test_malformed_device_names_the_setting(bad):
    with pytest.raises(ConfigError, match=r"^device: must be cpu, cuda"):
        RunConfig.from_dict({"dataset": "synthetic", "updates": 1, "device": bad})


@pytest.mark.skipif(HAS_ACCELERATOR, reason="an accelerator is present")
def test_missing_accelerator_stops_before_the_run(synthetic):
    with pytest.raises(ConfigError, match=r"^device: 'cuda' is not available here"):
        check_device("cuda")
    cfg = RunConfig.from_dict({"dataset": "synthetic", "model": "logreg", "updates": 5, "device": "cuda:0"})
    with pytest.raises(ConfigError, match=r"^device: 'cuda:0' is not available here"):
        Job.from_config(cfg, dataset=synthetic)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_reaches_the_cpu_accuracy(job_factory):
    """Same schedule and batches; float32 kernels differ between devices only in rounding."""
    cpu, _ = run_sim(job_factory(updates=200))
    cuda, _ = run_sim(job_factory(updates=200, device="cuda"))
    assert cuda.params.device.type == "cpu"
    assert torch.allclose(cpu.params, cuda.params, atol=1e-3)
