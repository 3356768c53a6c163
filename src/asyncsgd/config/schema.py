"""Every setting of a run: one flat, typed, validated record.

Each field carries its help text; ``asyncsgd run --help-settings`` and the README table are
generated from here. :meth:`RunConfig.from_dict` rejects unknown keys, wrong types and impossible
values with a :class:`~asyncsgd.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from asyncsgd.errors import ConfigError


def setting(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class RunConfig:
    # what runs where
    engine: str = setting("sim", "execution engine (see `asyncsgd list engines`)")
    protocol: str = setting(
        "async",
        "async: Downpour, every push applied on arrival; sync: p gradients averaged behind a "
        "barrier; sequential: one learner, no delay (plain SGD through the same core)",
    )
    learners: int = setting(8, "number of learners p")
    seed: int = setting(0, "run seed: model init, data order, delays and codec randomness")
    threads: int = setting(0, "torch intra-op threads per process (0: torch's default)")
    # data and model
    dataset: str = setting("mnist5k", "dataset (see `asyncsgd list datasets`)")
    data_path: str = setting("", "file or directory for datasets read from user files")
    data_seed: int = setting(0, "seed of the train/test split")
    partition: str = setting("disjoint", "disjoint: one shard per learner; shared: one stream")
    model: str = setting("mlp", "model (see `asyncsgd list models`)")
    hidden: list[int] = setting([128], "hidden layer widths of the mlp model")
    batch_size: int = setting(32, "mini-batch size M per gradient")
    # server rule
    lr: float = setting(0.05, "server learning rate γ (gradients are batch means)")
    rule: str = setting("sgd", "server optimizer: sgd (x ← x − γg) or momentum")
    momentum: float = setting(0.9, "momentum μ of rule=momentum")
    nesterov: bool = setting(False, "Nesterov variant of rule=momentum")
    remedy: str = setting("none", "staleness remedies applied before the optimizer, joined by +")
    # learner-side compression
    codec: str = setting("identity", "gradient codec (see `asyncsgd list codecs`)")
    ratio: float = setting(0.01, "fraction of coordinates kept by sparsifying codecs, in (0, 1]")
    scope: str = setting("global", "sparsify over the whole vector (global) or per layer (layer)")
    unbiased: bool = setting(False, "randomk: scale kept values by d/k (unbiased, not contractive)")
    error_feedback: bool = setting(False, "keep what the codec dropped and add it to the next push")
    # simulated time
    delay: str = setting(
        "exponential",
        "compute-time model: constant, exponential, lognormal; or fixed (τ drawn directly)",
    )
    delay_mean: float = setting(1.0, "mean compute time per gradient (simulated seconds)")
    delay_sigma: float = setting(0.5, "log-space standard deviation of delay=lognormal")
    slow_learners: int = setting(0, "number of straggler learners (the last ones)")
    slow_factor: float = setting(4.0, "stragglers compute this many times slower")
    staleness: int = setting(4, "delay=fixed: largest τ")
    staleness_dist: str = setting("uniform", "delay=fixed: uniform, constant or geometric")
    latency: float = setting(0.0, "simulated seconds per message (pull or push)")
    bandwidth: float = setting(math.inf, "simulated link bandwidth, bytes per second")
    server_time: float = setting(0.0, "simulated seconds the server spends applying one push")
    # engine local: learner processes, parameters in shared memory
    shards: int = setting(1, "local: parameter-server shards S, each with its own lock and version counter")
    learner_threads: int = setting(1, "local: torch intra-op threads per learner process")
    hogwild: bool = setting(False, "local: learners add updates to the shared parameters without locks")
    respawn: bool = setting(False, "local: restart a learner process that dies")
    timeout: float = setting(60.0, "local: longest any blocking wait may last, in seconds")
    checkpoint_every: int = setting(0, "save a checkpoint every this many updates (0: never); see --resume")
    # budget and metrics
    epochs: float = setting(0.0, "budget in passes over the training set (0: use updates)")
    updates: int = setting(0, "budget in server updates (0: use epochs)")
    eval_every: int = setting(0, "evaluate every this many server updates (0: about 25 times)")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Typed, validated config from plain values; the first problem raises ConfigError."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(key, f"unknown setting{hint}")
            kwargs[key] = coerce(key, value, _field_type(cls, key))
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise ConfigError(key, f"{message}, got {getattr(self, key)!r}")

        need(self.learners >= 1, "learners", "must be >= 1")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(self.lr > 0 and math.isfinite(self.lr), "lr", "must be a finite number > 0")
        need(0 < self.ratio <= 1, "ratio", "must be in (0, 1]")
        need(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        need(self.threads >= 0, "threads", "must be >= 0")
        need(all(h >= 1 for h in self.hidden), "hidden", "widths must be >= 1")
        for key in ("delay_mean", "delay_sigma", "latency", "server_time"):
            value = getattr(self, key)
            need(value >= 0 and math.isfinite(value), key, "must be a finite number >= 0")
        need(self.bandwidth > 0, "bandwidth", "must be > 0")
        need(0 <= self.slow_learners <= self.learners, "slow_learners", "must be in [0, learners]")
        need(self.slow_factor >= 1, "slow_factor", "must be >= 1")
        need(self.staleness >= 0, "staleness", "must be >= 0")
        need(self.epochs >= 0 and math.isfinite(self.epochs), "epochs", "must be >= 0")
        need(self.updates >= 0, "updates", "must be >= 0")
        need(self.eval_every >= 0, "eval_every", "must be >= 0")
        need(self.shards >= 1, "shards", "must be >= 1")
        need(self.learner_threads >= 1, "learner_threads", "must be >= 1")
        need(self.timeout > 0 and math.isfinite(self.timeout), "timeout", "must be a finite number > 0")
        need(self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0")
        if (self.epochs > 0) == (self.updates > 0):
            raise ConfigError(
                "epochs", f"set exactly one budget: epochs={self.epochs}, updates={self.updates}"
            )


def _field_type(cls: type, key: str) -> Any:
    return typing.get_type_hints(cls)[key]


def coerce(key: str, value: Any, kind: Any) -> Any:
    """``value`` as a ``kind``, or a ConfigError naming ``key``."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)
        if not isinstance(value, list | tuple):
            value = [value]
        return [coerce(key, v, item) for v in value]
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            try:
                return coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(key, f"unexpected value {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(key, f"expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"expected a string, got {value!r}")
    raise TypeError(f"no coercion for {kind}")
