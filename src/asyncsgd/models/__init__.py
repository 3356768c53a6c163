"""Model registry: logistic regression, an MLP and a LeNet-style CNN; any nn.Module via the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from asyncsgd.registry import Registry

ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry("model")


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


@MODELS.register("logreg", "multinomial logistic regression (one linear layer)")
def logreg(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(_numel(input_shape), num_classes))


@MODELS.register("mlp", "fully connected ReLU network with `hidden` units per layer")
def mlp(
    input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (128,), **_: object
) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = _numel(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@MODELS.register("lenet", "LeNet-5 style CNN: two 5×5 conv + pool stages, then 120-84 dense")
def lenet(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    if len(input_shape) != 3:
        raise ValueError(f"lenet needs image inputs (C, H, W), got shape {tuple(input_shape)}")
    channels = int(input_shape[0])
    features = nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    with torch.no_grad():
        width = features(torch.zeros(1, *input_shape)).shape[1]
    return nn.Sequential(
        features,
        nn.Linear(width, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )


def build_model(
    name: str, input_shape: Sequence[int], num_classes: int, seed: int, **params: object
) -> nn.Module:
    """Build a registered model with weights drawn from ``seed`` (the global RNG is left as it was)."""
    factory = MODELS.get(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(input_shape, num_classes, **params)


__all__ = ["MODELS", "build_model"]
