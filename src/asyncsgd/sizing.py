"""Will a run fit in this machine's memory? Counted before anything big is allocated.

A run holds its parameters several times over: the server (parameters, optimizer state, a decoded
update, the evaluator's copy) and every learner (the pulled parameters, gradients, codec memory or
local state); and one forward and backward pass keeps the activations of its batch. The estimate
is coarse (a factor of two either way) but it is enough to refuse a ``hidden = [1e7, 1e7]`` or
``learners = 4096`` of a large model with one line, instead of swapping the machine to a halt or
dying mid-allocation. It refuses only what needs more than the machine's physical memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from asyncsgd.config.schema import AUTO_LR, RunConfig
from asyncsgd.data import Dataset
from asyncsgd.errors import ConfigError
from asyncsgd.models import MODELS

FLOAT_BYTES = 4
SERVER_COPIES = 4
LEARNER_COPIES = 3
PASS_COPIES = 3
"""A pass keeps each activation, its gradient, and about as much scratch."""
EVAL_ROWS = 2048
"""Samples per evaluation pass (``FlatModel.evaluate``)."""


def physical_memory() -> int | None:
    """Bytes of RAM this machine has, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def size_key(cfg: RunConfig) -> str:
    """The setting that makes ``cfg``'s model big (``hidden``, ``embed_dim``) or ``model``."""
    return MODELS.entry(cfg.model).meta.get("sized_by", "model") if cfg.model in MODELS else "model"


def memory_parts(
    cfg: RunConfig, dataset: Dataset, parameters: int, activations: int, processes: int = 0
) -> list[tuple[str, int]]:
    """Estimated bytes, each with the setting that drives it, in the order they are judged: the
    server and one learner of the model, the other learners (and the processes the engine starts
    for them, ``processes`` bytes), then the passes of the largest batch (a mini-batch, or an
    evaluation chunk)."""
    per_copy = FLOAT_BYTES * parameters
    model = per_copy * (SERVER_COPIES + LEARNER_COPIES)
    if cfg.lr == AUTO_LR:  # lr = auto measures per-sample gradients of one mini-batch
        model += per_copy * cfg.batch_size
    eval_rows = min(EVAL_ROWS, max(dataset.n_train, int(dataset.x_test.shape[0])))
    passes = FLOAT_BYTES * PASS_COPIES * activations * max(cfg.batch_size, eval_rows)
    return [
        (size_key(cfg), model),
        ("learners", per_copy * LEARNER_COPIES * (cfg.learners - 1) + processes),
        ("batch_size" if cfg.batch_size > eval_rows else size_key(cfg), passes),
    ]


def check_memory(
    cfg: RunConfig,
    dataset: Dataset,
    parameters: int,
    activations: int = 0,
    memory: Callable[[], int | None] = physical_memory,
    processes: int = 0,
) -> None:
    """ConfigError when the run needs more memory than the machine has, naming the setting whose
    part no longer fits (the model's size, learners, or batch_size)."""
    have = memory()
    if have is None:
        return
    parts = memory_parts(cfg, dataset, parameters, activations, processes)
    need = sum(part for _, part in parts)
    if need <= have:
        return
    running = [sum(part for _, part in parts[: i + 1]) for i in range(len(parts))]
    key = next(k for (k, _), total in zip(parts, running, strict=True) if total > have)
    per_sample = f" and {activations:,} activations per sample" if activations else ""
    what = {
        "learners": f"{cfg.learners} learners of a {parameters:,}-parameter model"
        + (f" (each a process of engine {cfg.engine!r})" if processes else ""),
        "batch_size": f"batches of {cfg.batch_size:,} samples of {activations:,} activations each",
    }.get(key, f"the {cfg.model} model with {parameters:,} parameters{per_sample}")
    raise ConfigError(key, f"{what} need about {_bytes(need)} of memory; this machine has {_bytes(have)}")
