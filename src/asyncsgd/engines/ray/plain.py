"""Checkpoint state as plain data, and back.

A checkpoint is read with ``torch.load(weights_only=True)``, which accepts torch tensors, ``int``,
``float``, ``bool``, ``str``, ``None`` and lists, tuples and dicts of them, and nothing else (no
numpy arrays, no classes of ours). The actors' state holds numpy arrays (data-stream orders, seed
blocks) and dataclasses (a rule's state), so it is written with :func:`plain` and read back with
:func:`restore`, which takes the shapes and types from the state a freshly built actor has (the
same settings build the same structure), so nothing in the file names a type to build.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import torch

SCALARS = (bool, int, float, str, type(None))


def plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as tensors and numbers, dataclasses as dicts."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, SCALARS):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    raise TypeError(f"a checkpoint cannot hold a {type(value).__name__}")


def _key(key: Any) -> Any:
    if isinstance(key, np.generic):
        key = key.item()
    if not isinstance(key, SCALARS):
        raise TypeError(f"a checkpoint cannot hold a dict key of type {type(key).__name__}")
    return key


def restore(template: Any, value: Any) -> Any:
    """``value`` (as :func:`plain` made it) in the types of ``template``; tensors are copied, so
    the result never shares memory with what was read."""
    if isinstance(value, torch.Tensor):
        if isinstance(template, np.ndarray):
            return value.numpy().astype(template.dtype, copy=True)
        return value.clone()
    if isinstance(template, np.generic):
        return type(template)(value)
    if dataclasses.is_dataclass(template) and not isinstance(template, type) and isinstance(value, dict):
        out = copy.copy(template)
        for f in dataclasses.fields(template):
            object.__setattr__(out, f.name, restore(getattr(template, f.name), value[f.name]))
        return out
    if isinstance(value, dict):
        known = template if isinstance(template, dict) else {}
        return {k: restore(known.get(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        known = list(template) if isinstance(template, list | tuple) else []
        items = [restore(known[i] if i < len(known) else None, v) for i, v in enumerate(value)]
        if hasattr(template, "_fields"):  # a named tuple
            return type(template)(*items)
        return tuple(items) if isinstance(template, tuple) or isinstance(value, tuple) else items
    return value
