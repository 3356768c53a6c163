"""Fully connected models: multinomial logistic regression and a ReLU MLP."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from asyncsgd.models.base import MODELS, numel


@MODELS.register("logreg", "multinomial logistic regression (one linear layer)")
def logreg(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(numel(input_shape), num_classes))


@MODELS.register("mlp", "fully connected ReLU network with `hidden` units per layer", sized_by="hidden")
def mlp(
    input_shape: Sequence[int], num_classes: int, hidden: Sequence[int] = (128,), **_: object
) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    width = numel(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
