"""The Python API trains any nn.Module on any Dataset through the same engines and outputs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import asyncsgd
from asyncsgd.config import load_experiment
from asyncsgd.data import Dataset


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(6, 12)
        self.b = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.tanh(self.a(x)))


def blobs() -> Dataset:
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3, size=(3, 6))
    y = rng.integers(0, 3, 600)
    x = centers[y] + rng.normal(size=(600, 6))
    return Dataset.from_arrays("blobs", x[:500], y[:500], x[500:], y[500:], 3)


def test_train_custom_module_on_custom_dataset(tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    before = [p.detach().clone() for p in model.parameters()]
    result = asyncsgd.train(model, blobs(), learners=3, epochs=4, batch_size=10, lr=0.2, out=tmp_path)
    assert result.summary["dataset"] == "blobs"
    assert result.summary["parameters"] == sum(p.numel() for p in model.parameters())
    assert result.summary["final_test_accuracy"] > 0.9
    assert (tmp_path / "run" / "trace.csv").exists()
    # the caller's module is a template: it is copied, never trained in place
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_compare_methods_on_registered_names():
    exp = asyncsgd.compare(
        "logreg", "synthetic", updates=30, methods={"plain": {}, "topk": {"codec": "topk"}}
    )
    assert [m.name for m in exp.methods] == ["plain", "topk"]
    assert exp.summary["topk"]["bytes"]["up"] < exp.summary["plain"]["bytes"]["up"]


def test_embedded_default_experiment_is_valid():
    exp = load_experiment(None)
    assert [m.name for m in exp.methods] == ["downpour", "topk-ef", "staleness-lr"]
    cfgs = {m.name: m.config for m in exp.methods}
    assert all(c.learners == 8 and c.delay == "exponential" for c in cfgs.values())
    assert cfgs["topk-ef"].codec == "topk" and cfgs["topk-ef"].error_feedback
    assert cfgs["staleness-lr"].remedy == "staleness_lr"
