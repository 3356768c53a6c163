import pytest
import torch
from torch import nn

from asyncsgd.models import build_model
from asyncsgd.vocabulary.flat import FlatLayout, FlatModel


def test_layout_covers_vector_in_order():
    layout = FlatLayout.from_shapes([("w", (3, 4)), ("b", (4,)), ("c", (2, 2, 2))])
    assert [s.offset for s in layout] == [0, 12, 16]
    assert layout.size == 24
    x = torch.arange(24.0)
    views = layout.views(x)
    assert torch.equal(views["b"], torch.arange(12.0, 16.0))
    assert views["c"].shape == (2, 2, 2)


def test_flat_model_gradient_matches_unflattened_module():
    ref = build_model("lenet", (1, 8, 8), 10, seed=3)
    flat = FlatModel(build_model("lenet", (1, 8, 8), 10, seed=3))
    x, y = torch.randn(5, 1, 8, 8), torch.randint(0, 10, (5,))
    loss_ref = nn.functional.cross_entropy(ref(x), y)
    loss_ref.backward()
    expected = torch.cat([p.grad.reshape(-1) for p in ref.parameters()])
    loss = flat.gradient(flat.params.clone(), x, y)
    assert loss == pytest.approx(float(loss_ref.detach()))
    assert torch.equal(flat.grads, expected)


def test_parameters_are_views_of_the_flat_buffer():
    flat = FlatModel(build_model("mlp", (4,), 3, seed=0, hidden=(5,)))
    flat.params.zero_()
    assert all(float(p.detach().abs().sum()) == 0.0 for p in flat.module.parameters())
    x = torch.randn(flat.size)
    flat.load(x)
    assert torch.equal(torch.cat([p.reshape(-1) for p in flat.module.parameters()]), x)


def test_gradient_does_not_accumulate_across_calls():
    flat = FlatModel(build_model("logreg", (4,), 3, seed=0))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    flat.gradient(flat.params.clone(), x, y)
    first = flat.grads.clone()
    flat.gradient(flat.params.clone(), x, y)
    assert torch.equal(flat.grads, first)


def test_model_without_parameters_is_rejected():
    with pytest.raises(ValueError, match="no trainable parameters"):
        FlatModel(nn.ReLU())
