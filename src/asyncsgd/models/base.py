"""The model registry and the seeded builder every engine uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from asyncsgd.registry import Registry

ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry("model")
"""Factories ``(input_shape, num_classes, **settings) -> nn.Module``; ``inputs`` meta says whether
a model reads float ``features`` (the default) or padded ``tokens`` (then ``vocab_size`` is given)."""


def numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def image_shape(model: str, input_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(C, H, W)`` or a ValueError saying the model needs images."""
    if len(input_shape) != 3:
        raise ValueError(f"{model} needs image inputs (C, H, W), got shape {tuple(input_shape)}")
    c, h, w = (int(s) for s in input_shape)
    return c, h, w


def flat_width(features: nn.Module, input_shape: Sequence[int]) -> int:
    """Width of ``features``' flattened output for one input of ``input_shape``."""
    with torch.no_grad():
        return int(features(torch.zeros(1, *input_shape)).reshape(1, -1).shape[1])


def build_model(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    seed: int,
    vocab_size: int = 0,
    **params: object,
) -> nn.Module:
    """Build a registered model with weights drawn from ``seed`` (the global RNG is left as it was).

    ``vocab_size > 0`` means the inputs are token ids; a model must read the kind of input the
    dataset has, else a ValueError names both.
    """
    entry = MODELS.entry(name)
    wants = entry.meta.get("inputs", "features")
    has = "tokens" if vocab_size > 0 else "features"
    if wants != has:
        hint = (
            "set text_features='tokens'"
            if wants == "tokens"
            else "use a token model (e.g. textbag) or text_features='bow'/'tfidf'"
        )
        raise ValueError(f"model {name!r} reads {wants} but the dataset has {has}: {hint}")
    if vocab_size > 0:
        params["vocab_size"] = vocab_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return entry.factory(input_shape, num_classes, **params)
