"""Registered models: shapes, parameter counts, seeding, and exact gradients through FlatModel."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import asyncsgd
from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import PAD_ID, Dataset
from asyncsgd.errors import ConfigError
from asyncsgd.models import MODELS, build_model
from asyncsgd.models.resnet import PadShortcut
from asyncsgd.vocabulary.flat import FlatModel

VOCAB = 40


def sample_inputs(name: str, batch: int = 6) -> tuple[tuple[int, ...], dict, torch.Tensor]:
    """An input shape, build options and a batch the model ``name`` reads."""
    gen = torch.Generator().manual_seed(1)
    if MODELS.entry(name).meta.get("inputs") == "tokens":
        ids = torch.randint(1, VOCAB, (batch, 9), generator=gen)
        ids[:, 6:] = PAD_ID
        return (9,), {"vocab_size": VOCAB, "embed_dim": 8}, ids
    if name in ("logreg", "mlp"):
        return (12,), {"hidden": (16,)}, torch.randn(batch, 12, generator=gen)
    return (3, 32, 32), {}, torch.randn(batch, 3, 32, 32, generator=gen)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_maps_a_batch_to_logits_and_is_seeded(name):
    shape, options, x = sample_inputs(name)
    a, b, c = (build_model(name, shape, 5, seed, **options) for seed in (0, 0, 1))
    assert a(x).shape == (6, 5)
    pa, pb, pc = (torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert MODELS.entry(name).summary


@pytest.mark.parametrize("name", MODELS.names())
def test_flat_model_gradient_equals_autograd_on_the_module(name):
    shape, options, x = sample_inputs(name)
    targets = torch.arange(6) % 5
    module = build_model(name, shape, 5, 0, **options)
    reference = copy.deepcopy(module).train()
    flat = FlatModel(module)
    loss = flat.gradient(flat.params.clone(), x, targets)
    ref_loss = nn.functional.cross_entropy(reference(x), targets)
    ref_loss.backward()
    expected = torch.cat([p.grad.reshape(-1) for p in reference.parameters()])
    assert loss == pytest.approx(ref_loss.item(), rel=1e-6)
    torch.testing.assert_close(flat.grads, expected, rtol=1e-5, atol=1e-7)
    # one SGD step through the flat vector lowers the loss on this batch
    flat.gradient(flat.params - 0.05 * flat.grads, x, targets)
    assert flat.gradient(flat.params, x, targets) < loss


def conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def test_resnet20_has_he_et_al_shape_and_0_27m_parameters():
    model = build_model("resnet20", (3, 32, 32), 10, 0)
    bn = lambda c: 2 * c  # noqa: E731  (weight and bias)
    expected = conv(3, 16, 3, False) + bn(16)
    width = 16
    for out in (16, 32, 64):
        for _ in range(3):
            expected += conv(width, out, 3, False) + bn(out) + conv(out, out, 3, False) + bn(out)
            width = out
    expected += 64 * 10 + 10
    n = sum(p.numel() for p in model.parameters())
    assert n == expected == 269_722
    weighted = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(weighted) == 20
    assert sum(1 for m in model.modules() if isinstance(m, PadShortcut) and m.extra) == 2
    assert model.stages(torch.zeros(1, 16, 32, 32)).shape == (1, 64, 8, 8)


def test_resnet20_batchnorm_statistics_stay_local_buffers():
    model = build_model("resnet20", (3, 32, 32), 10, 0)
    flat = FlatModel(model)
    assert flat.size == 269_722  # running means and variances are not in the flat vector
    before = model.bn.running_mean.clone()
    flat.gradient(flat.params, torch.randn(4, 3, 32, 32), torch.arange(4))
    assert not torch.equal(before, model.bn.running_mean)


def test_cifar_cnn_is_the_three_stage_caffe_like_model():
    model = build_model("cifar_cnn", (3, 32, 32), 10, 0)
    features, _ = model
    assert features(torch.zeros(1, 3, 32, 32)).shape == (1, 64 * 4 * 4)
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (3, 32, (5, 5)), (32, 32, (5, 5)), (32, 64, (5, 5))
    ]  # fmt: skip
    expected = conv(3, 32, 5, True) + conv(32, 32, 5, True) + conv(32, 64, 5, True) + 1024 * 10 + 10
    assert sum(p.numel() for p in model.parameters()) == expected == 89_578
    assert build_model("cifar_cnn", (1, 28, 28), 10, 0)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_textbag_averages_word_embeddings_and_ignores_padding():
    model = build_model("textbag", (5,), 3, 0, vocab_size=VOCAB, embed_dim=4)
    padded = torch.tensor([[5, 7, 9, PAD_ID, PAD_ID]])
    table = model.embed.weight.detach()
    expected = model.out(table[[5, 7, 9]].mean(dim=0, keepdim=True))
    torch.testing.assert_close(model(padded), expected)
    torch.testing.assert_close(model(padded), model(torch.tensor([[5, 7, 9]])))


@pytest.mark.parametrize(("model", "tokens", "match"), [
    ("mlp", True, "reads features but the dataset has tokens"),
    ("textbag", False, "set text_features='tokens'"),
    ("resnet20", False, "needs image inputs"),
])  # fmt: skip
def test_a_model_that_cannot_read_the_data_is_a_config_error(model, tokens, match):
    ds = token_dataset() if tokens else asyncsgd.data.load_dataset("synthetic")
    with pytest.raises(ConfigError, match=match) as err:
        Job.from_config(RunConfig.from_dict({"model": model, "updates": 1}), dataset=ds)
    assert err.value.key == "model"


def token_dataset(n: int = 400, length: int = 12, classes: int = 4, seed: int = 0) -> Dataset:
    """Documents of random words where class c uses word c + 1 often; padded to ``length``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    ids = rng.integers(classes + 1, VOCAB, (n, length))
    mask = rng.random((n, length)) < 0.3
    ids[mask] = np.broadcast_to(y[:, None] + 1, (n, length))[mask]
    ids[: n // 2, -3:] = PAD_ID  # half the documents are shorter
    cut = n * 3 // 4
    return Dataset.from_tokens("tokens", ids[:cut], y[:cut], ids[cut:], y[cut:], VOCAB, classes)


def test_textbag_trains_through_the_simulator_on_token_batches():
    ds = token_dataset()
    job = Job.from_config(
        RunConfig.from_dict({"model": "textbag", "updates": 1, "batch_size": 8}), dataset=ds
    )
    inputs, labels = job.batch(np.array([3, 1, 4]))
    assert (
        inputs.dtype == torch.int64
        and inputs.shape == (3, 12)
        and labels.tolist() == ds.y_train[[3, 1, 4]].tolist()
    )
    result = asyncsgd.train("textbag", ds, learners=4, updates=300, batch_size=16, lr=2.0, embed_dim=16)
    assert result.summary["updates"] == 300
    assert result.summary["final_test_accuracy"] > 0.6  # chance is 0.25
