"""What an unknown setting most likely meant: the names other tools give asyncsgd's settings, then
the closest spelling.

An alias is only ever a suggestion in the error (``learning_rate: unknown setting (did you mean
'lr'?)``), never accepted in its place: a run file means one thing, and its run id hashes the
names it uses. The table is consulted before edit distance, which alone sends ``learning_rate``
to ``theory_rate``; a misspelt alias (``lerning_rate``) is matched against the aliases too.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from asyncsgd.errors import ConfigError

ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("learning_rate", "lr_rate", "learningrate", "base_lr", "step_size", "stepsize", "eta"),
    "learners": ("workers", "num_workers", "n_workers", "nworkers", "num_learners", "n_learners",
                 "world_size", "nprocs", "num_processes", "p"),
    "batch_size": ("batchsize", "batch", "bs", "minibatch", "mini_batch", "mini_batch_size",
                   "minibatch_size", "train_batch_size", "per_device_train_batch_size"),
    "epochs": ("n_epochs", "num_epochs", "nepochs", "epoch", "max_epochs", "num_train_epochs"),
    "updates": ("steps", "num_steps", "n_steps", "max_steps", "iterations", "iters", "num_iterations",
                "n_iterations", "max_iter", "num_updates", "n_updates"),
    "seed": ("random_seed", "rng_seed", "manual_seed"),
    "rule": ("optimizer", "optimiser", "optim", "server_optimizer"),
    "codec": ("compressor", "compression", "quantizer", "sparsifier"),
    "ratio": ("compression_ratio", "topk_ratio", "k_ratio", "density", "keep_ratio"),
    "threads": ("num_threads", "n_threads", "torch_threads", "intra_op_threads"),
    "hidden": ("hidden_size", "hidden_sizes", "hidden_dim", "hidden_dims", "hidden_layers", "layers"),
    "model": ("arch", "architecture", "network", "net"),
    "data_path": ("data_dir", "data_root", "dataset_path", "datadir"),
    "shards": ("num_shards", "n_shards", "num_servers", "n_servers", "num_ps", "parameter_servers"),
    "eval_every": ("eval_interval", "eval_freq", "eval_frequency", "evaluate_every", "eval_steps",
                   "test_every", "log_every", "log_interval"),
    "error_feedback": ("ef", "use_error_feedback"),
    "validation": ("val_split", "validation_split", "val_fraction", "val_size"),
    "checkpoint_every": ("checkpoint_interval", "save_every", "ckpt_every", "save_interval"),
    "local_steps": ("local_iters", "local_updates", "sync_period"),
    "engine": ("backend",),
}  # fmt: skip
"""Each setting with the names other tools (PyTorch, Hugging Face, Ray, papers) give it."""

MEANT = {alias: setting for setting, names in ALIASES.items() for alias in names}

SWEEP_TABLES = {
    "grid": "a [grid] of values is a sweep: run this file with `asyncsgd sweep FILE` (a run file takes "
    "one value per setting)",
    "report": "a [report] belongs to a sweep file: run it with `asyncsgd sweep FILE`, then `asyncsgd "
    "report DB`",
}
"""Tables of a sweep file that a run file cannot hold, each with where it belongs."""


def suggestion(key: str, known: Collection[str]) -> str | None:
    """The setting ``key`` most likely meant: an alias of a known setting, the known setting
    closest in spelling, or the setting of the alias closest in spelling; None if nothing is close."""
    norm = key.strip().lower().replace("-", "_")
    if norm in known:
        return norm
    if MEANT.get(norm) in known:
        return MEANT[norm]
    close = difflib.get_close_matches(norm, [*known, *MEANT], n=1)
    if not close:
        return None
    return close[0] if close[0] in known else MEANT[close[0]] if MEANT[close[0]] in known else None


def unknown_setting(key: str, known: Collection[str]) -> ConfigError:
    """The one-line error for a key no part declares."""
    if key in SWEEP_TABLES:
        return ConfigError(key, SWEEP_TABLES[key])
    meant = suggestion(key, known)
    return ConfigError(key, "unknown setting" + (f" (did you mean {meant!r}?)" if meant else ""))
