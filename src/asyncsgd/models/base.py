"""The model registry and the seeded builder every engine uses."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from asyncsgd.registry import Registry

ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry("model")
"""Factories ``(input_shape, num_classes, **settings) -> nn.Module``; ``inputs`` meta says whether
a model reads float ``features`` (the default) or padded ``tokens`` (then ``vocab_size`` is given);
``sized_by`` names the setting that makes the model big (``hidden``, ``embed_dim``), if any."""


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
    """Width of ``features``' flattened output for one input of ``input_shape``; features built
    on the ``meta`` device (:func:`count_parameters`) are measured on a CPU copy, because a meta
    forward pass costs seconds of imports."""
    with torch.device("cpu"), torch.no_grad():
        if any(p.is_meta for p in features.parameters()):
            features = _cpu_copy(features)
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
    with torch.random.fork_rng(devices=[]):  # CPU generator only: models are built on the CPU
        torch.default_generator.manual_seed(seed)  # torch.manual_seed would reseed CUDA too
        return entry.factory(input_shape, num_classes, **params)


class _SkipMetaFills(TorchFunctionMode):
    """In-place fills of meta tensors (weight initialisation) do nothing: a meta tensor has no
    data, and the meta kernels of ``normal_`` and its kin import torch's symbolic-shape machinery,
    which costs seconds."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        target = args[0] if args else kwargs.get("tensor")  # torch.nn.init passes tensor=
        if (
            name.endswith("_")
            and not name.startswith("__")
            and isinstance(target, torch.Tensor)
            and target.is_meta
        ):
            return target
        return func(*args, **kwargs)


def _cpu_copy(module: nn.Module) -> nn.Module:
    """``module`` with zero CPU tensors in place of its meta ones (``to_empty`` would route
    through torch's Python reference kernels, which cost seconds of imports)."""
    module = copy.deepcopy(module)
    for sub in module.modules():
        for table in (sub._parameters, sub._buffers):
            for key, value in table.items():
                if value is not None and value.is_meta:
                    zeros = torch.zeros(value.shape, dtype=value.dtype, device="cpu")
                    table[key] = nn.Parameter(zeros, value.requires_grad) if key in sub._parameters else zeros
    return module


def count_parameters(
    name: str, input_shape: Sequence[int], num_classes: int, vocab_size: int = 0, **params: object
) -> int:
    """Parameters of a registered model, counted on torch's ``meta`` device (shapes without
    storage), so a model too big for the machine is measured in milliseconds instead of failing,
    or swapping, mid-allocation. Raises the ValueError :func:`build_model` raises."""
    with torch.device("meta"), _SkipMetaFills():
        module = build_model(name, input_shape, num_classes, 0, vocab_size, **params)
    return int(sum(p.numel() for p in module.parameters()))


def activations_per_sample(module: nn.Module, input_shape: Sequence[int], tokens: bool = False) -> int:
    """Numbers one sample's forward pass through ``module`` produces (every leaf module's output;
    backward keeps about as many): a batch of B costs about 4·B times this in bytes, twice over.
    Runs one all-zero sample in eval mode, then leaves ``module`` in the mode it was in."""
    produced = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal produced
        if isinstance(output, torch.Tensor):
            produced += output.numel()

    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, *input_shape, dtype=torch.int64 if tokens else torch.float32))
    finally:
        module.train(training)
        for hook in hooks:
            hook.remove()
    return produced
