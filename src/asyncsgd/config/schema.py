"""Every setting of a run: one flat, typed, validated record.

Each field carries its help text; ``asyncsgd run --help-settings`` and the README table are
generated from here. :meth:`RunConfig.from_dict` rejects unknown keys, wrong types and impossible
values with a :class:`~asyncsgd.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from asyncsgd.errors import ConfigError

AUTO_LR = "auto"
DEVICE = re.compile(r"cpu|mps|(cuda|xpu)(:\d+)?")


MAX_LEARNERS = 4096
MAX_THREADS = 1024
MAX_WIDTH = 2**24
MAX_LAYERS = 64
MAX_COUNT = 10**12
"""Largest update budget, checkpoint or evaluation interval: more than any machine runs."""
MAX_RATE = 1e6
MAX_LR = 1e38
"""Rates go into float32 tensors (largest 3.4e38); a huge rate is a legitimate way to make a run diverge."""
MAX_SIM_SECONDS = 1e9
"""Largest simulated time of one event (compute time, latency, apply): sums stay finite."""
MAX_RAY_UNITS = 1024.0
RAY_UNIT = 1e-4
"""Ray reserves fractional resources in steps of 0.0001."""


def _show(v: float) -> str:
    """A bound as people write it: 4096, 2^24, 2^63-1, 1e9, 0.5, inf."""
    if math.isinf(v) or not float(v).is_integer():
        return f"{v:g}"
    n = abs(int(v))
    sign = "-" if v < 0 else ""
    for k in range(15, 64):
        if n in (2**k, 2**k - 1):
            return f"{sign}2^{k}{'' if n == 2**k else '-1'}"
    text = str(n)
    if n >= 10**5 and text.strip("0") == "1":
        return f"{sign}1e{len(text) - 1}"
    return f"{sign}{text}"


def _brief(value: Any) -> str:
    """``repr(value)``, with integers of more than 20 digits (1e308 read as an integer) in e-notation."""
    if isinstance(value, list):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 20:
        return f"{value:.3e}"
    return repr(value)


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting accepts: ``low`` to ``high``, either end open; an infinite
    end accepts infinity (where it means "no limit"); NaN never."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{_show(self.low)}, {_show(self.high)}{right}"


def setting(default: Any, help: str, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, **kw: Any) -> Any:  # fmt: skip
    """A field with its help text and, for numbers (or lists of them), the range it accepts;
    the range is checked by :meth:`RunConfig.validate` and shown in the help."""
    if low is not None and high is not None:
        kw["bounds"] = Bounds(low, high, low_open, high_open)
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
    learners: int = setting(8, "number of learners p", 1, MAX_LEARNERS)
    seed: int = setting(0, "run seed: model init, data order, delays and codec randomness", 0, 2**63 - 1)
    threads: int = setting(0, "torch intra-op threads per process (0: torch's default)", 0, MAX_THREADS)
    device: str = setting(
        "cpu",
        "torch device of the learners' forward and backward passes and of evaluation: cpu, cuda, "
        "cuda:N (the server, codecs and memories stay on the CPU)",
    )
    # data and model
    dataset: str = setting("mnist5k", "dataset (see `asyncsgd list datasets`)")
    data_path: str = setting("", "file or directory for datasets read from user files")
    data_seed: int = setting(0, "seed of the train/test split", 0, 2**63 - 1)
    partition: str = setting("disjoint", "disjoint: one shard per learner; shared: one stream")
    model: str = setting("mlp", "model (see `asyncsgd list models`)")
    hidden: list[int] = setting(
        [128], "hidden layer widths of the mlp model (at most 64 layers)", 1, MAX_WIDTH
    )
    batch_size: int = setting(32, "mini-batch size M per gradient", 1, MAX_WIDTH)
    # text datasets (20news, reuters8) and the textbag model
    text_features: str = setting(
        "tfidf",
        "text datasets: bow (L2-normalised word counts), tfidf, or tokens (padded word ids, for "
        "model=textbag)",
    )
    text_vocab: str = setting(
        "top", "text datasets: the vocab_size most frequent train words (top) or hashed buckets (hash)"
    )
    vocab_size: int = setting(5000, "text datasets: vocabulary size (words or hash buckets)", 1, 2**24)
    max_tokens: int = setting(256, "text_features=tokens: words kept per document", 1, 2**20)
    embed_dim: int = setting(64, "width of the word embeddings of model=textbag", 1, 2**16)
    # server rule
    lr: float | str = setting(
        0.05,
        "learning rate γ of the server, and of the local steps of localsgd/easgd/eamsgd "
        '(gradients are batch means), or "auto": predicted from the convergence bound with measured '
        "constants (docs/theory.md)",
        0,
        MAX_LR,
        True,
    )
    rule: str = setting("sgd", "server optimizer: sgd (x ← x − γg), momentum, async_momentum or adagrad")
    momentum: float = setting(
        0.9,
        "momentum μ of rule=momentum; target total momentum of rule=async_momentum; δ of eamsgd",
        0,
        1,
        False,
        True,
    )
    nesterov: bool = setting(False, "Nesterov variant of rule=momentum")
    remedy: str = setting("none", "staleness remedies applied before the optimizer, joined by +")
    # learner-side compression
    codec: str = setting("identity", "gradient codec (see `asyncsgd list codecs`)")
    ratio: float = setting(
        0.01,
        "fraction of coordinates kept by the sparsifiers (topk, randomk, dropping, wangni)",
        0,
        1,
        True,
    )
    scope: str = setting(
        "global", "groups a codec selects or scales in: the whole vector (global) or each layer (layer)"
    )
    unbiased: bool = setting(False, "randomk: scale kept values by d/k (unbiased, not contractive)")
    error_feedback: bool = setting(
        False,
        "keep what the codec dropped and add it to the next push (always on for codecs defined "
        "with it: efsign, onebit, threshold, dropping)",
    )
    # the catalogue: algorithms, remedy and codec parameters (docs/catalogue.md)
    algorithm: str = setting(
        "downpour", "what learners do: downpour, localsgd, easgd, eamsgd (see `asyncsgd list algorithms`)"
    )
    local_steps: int = setting(
        1, "localsgd: local steps H per push; easgd/eamsgd: local steps τ_c between exchanges", 1, 10**6
    )
    elastic_alpha: float = setting(
        0.1, "easgd/eamsgd: moving rate α of the elastic exchange (β = p·α)", 0, 1, True
    )
    dc_lambda: float = setting(
        0.04, "dc_asgd: λ of the delay compensation; dc_asgd_adaptive: λ0", 0, MAX_RATE
    )
    dc_momentum: float = setting(
        0.95, "dc_asgd_adaptive: decay m of the running mean square of g", 0, 1, False, True
    )
    stale_bound: float = setting(
        math.inf, "drop_stale: discard a push whose staleness τ exceeds this", 0, math.inf
    )
    ssp_bound: int = setting(
        -1,
        "bounded staleness (SSP): a learner more than this many pushes ahead of the slowest "
        "waits (−1: off, 0: bulk-synchronous)",
        -1,
        10**9,
    )
    adagrad_eps: float = setting(1e-10, "rule=adagrad: ε in x ← x − γ·g/(√G + ε)", 0, 1, True)
    levels: int = setting(7, "qsgd: levels s per sign (codes take 2, 4, 8 or 16 bits)", 1, 2**15 - 1)
    bucket: int = setting(512, "qsgd: coordinates sharing one norm (0: one per scope group)", 0, 2**31 - 1)
    clip: float = setting(2.5, "terngrad: clip to ±clip·σ before ternarising (0: off, unbiased)", 0, MAX_RATE)
    threshold: float = setting(0.05, "threshold: Strom's τ; ±τ is sent where |m + g| ≥ τ", 0, MAX_RATE, True)
    # simulated time
    delay: str = setting(
        "exponential",
        "compute-time model: constant, exponential, lognormal; or fixed (τ drawn directly)",
    )
    delay_mean: float = setting(1.0, "mean compute time per gradient (simulated seconds)", 0, MAX_SIM_SECONDS)
    delay_sigma: float = setting(0.5, "log-space standard deviation of delay=lognormal", 0, 10)
    slow_learners: int = setting(0, "number of straggler learners (the last ones)", 0, MAX_LEARNERS)
    slow_factor: float = setting(4.0, "stragglers compute this many times slower", 1, MAX_RATE)
    staleness: int = setting(4, "delay=fixed: largest τ", 0, 10**6)
    staleness_dist: str = setting("uniform", "delay=fixed: uniform, constant or geometric")
    latency: float = setting(0.0, "simulated seconds per message (pull or push)", 0, MAX_SIM_SECONDS)
    bandwidth: float = setting(math.inf, "simulated link bandwidth, bytes per second", 0, math.inf, True)
    server_time: float = setting(
        0.0, "simulated seconds the server spends applying one push", 0, MAX_SIM_SECONDS
    )
    # real engines: local (learner processes, parameters in shared memory) and ray (actors)
    shards: int = setting(
        1,
        "local, ray: parameter-server shards S, each with its own version counter and lock or actor",
        1,
        MAX_THREADS,
    )
    learner_threads: int = setting(
        1, "local, ray: torch intra-op threads per learner process or actor", 1, MAX_THREADS
    )
    hogwild: bool = setting(False, "local: learners add updates to the shared parameters without locks")
    respawn: bool = setting(False, "local, ray: restart a learner process or actor that dies")
    timeout: float = setting(
        60.0, "local, ray: longest any blocking wait or remote call may last, seconds", 0, MAX_RATE, True
    )
    ray_address: str = setting(
        "",
        "ray: address of a running Ray cluster to join (host:port, or auto); empty: start a private Ray "
        "instance on 127.0.0.1 for the run",
    )
    ray_cpus_per_learner: float = setting(
        1.0, "ray: CPUs each learner actor reserves from the cluster", 0, MAX_RAY_UNITS
    )
    ray_gpus_per_learner: float = setting(
        0.0,
        "ray: GPUs each learner actor reserves (fractions share a GPU); needed for device=cuda",
        0,
        MAX_RAY_UNITS,
    )
    ray_cpus_per_shard: float = setting(
        1.0, "ray: CPUs each parameter-server shard actor reserves", 0, MAX_RAY_UNITS
    )
    checkpoint_every: int = setting(
        0, "save a checkpoint every this many updates (0: never); see --resume", 0, MAX_COUNT
    )
    # budget and metrics
    epochs: float = setting(0.0, "budget in passes over the training set (0: use updates)", 0, MAX_RATE)
    updates: int = setting(0, "budget in server updates (0: use epochs)", 0, MAX_COUNT)
    eval_every: int = setting(0, "evaluate every this many server updates (0: about 25 times)", 0, MAX_COUNT)
    eval_grad_norm: bool = setting(
        False,
        "evaluations also record grad_norm_sq = ‖∇f(x)‖², f the mean training loss on the evaluated "
        "train subset (one backward pass over it per evaluation)",
    )
    # theory toolkit: how lr = "auto" and `asyncsgd theory` measure and predict (docs/theory.md)
    theory_rate: str = setting(
        "corollary2",
        "lr = auto: corollary2 (Lian et al., lr = √(D_f/(K·L·σ_M²))) or optimal (minimises "
        "bound (1) under constraint (2) with T = p)",
    )
    theory_lipschitz: str = setting("hessian", "estimate of L that feeds the formulas: hessian or secant")
    theory_f_low: float = setting(
        0.0, "lower bound on the training loss: D_f = f(x1) − theory_f_low", -MAX_COUNT, MAX_COUNT
    )
    theory_points: int = setting(
        5, "probe points: the initial point, then one every theory_steps SGD steps", 1, 1000
    )
    theory_steps: int = setting(50, "SGD steps between probe points", 1, 10**6)
    theory_probe_lr: float = setting(
        0.05, "learning rate of the probe's SGD steps (batch-mean gradients)", 0, MAX_LR, True
    )
    theory_batches: int = setting(
        32, "mini-batches drawn at each probe point to estimate σ² (pairs)", 4, 10**5
    )
    theory_hvp: int = setting(
        20, "most Hessian-vector products per probe point (power iteration for L)", 1, 10**4
    )
    theory_samples: int = setting(
        512, "samples in the loss whose Hessian and secant give L (0: all)", 0, 2**31 - 1
    )

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's help text, with the range a number must lie in."""
        found = {}
        for f in dataclasses.fields(cls):
            bounds = f.metadata.get("bounds")
            found[f.name] = f.metadata["help"] + (f"; range {bounds}" if bounds else "")
        return found

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

    def canonical(self) -> str:
        """These settings as canonical JSON: sorted keys, no spaces, shortest round-trip floats
        (``Infinity`` for an infinite value); a run's id hashes it (``asyncsgd.sweep.spec.run_id``)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        """Every number in its declared range, then what ranges cannot say; the first problem
        raises a ConfigError naming its setting (before anything is built or allocated)."""

        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise ConfigError(key, f"{message}, got {_brief(getattr(self, key))}")

        for f in dataclasses.fields(self):
            bounds = f.metadata.get("bounds")
            value = getattr(self, f.name)
            if bounds is None or isinstance(value, str):
                continue
            if isinstance(value, list):
                need(len(value) <= MAX_LAYERS, f.name, f"at most {MAX_LAYERS} entries")
                bad = [v for v in value if v not in bounds]
                need(not bad, f.name, f"entries must be in {bounds}")
            else:
                need(value in bounds, f.name, f"must be in {bounds}")
        need(self.lr == AUTO_LR or isinstance(self.lr, float), "lr", f'must be a number or "{AUTO_LR}"')
        for key in ("ray_cpus_per_learner", "ray_gpus_per_learner", "ray_cpus_per_shard"):
            units = getattr(self, key) / RAY_UNIT
            need(abs(units - round(units)) < 1e-6, key, f"must be a multiple of {RAY_UNIT:g} (Ray's unit)")
        need(DEVICE.fullmatch(self.device) is not None, "device", "must be cpu, cuda, cuda:N, mps or xpu[:N]")
        need(self.slow_learners <= self.learners, "slow_learners", "must be in [0, learners]")
        if self.epochs > 0 and self.updates > 0:
            raise ConfigError(
                "epochs", f"set exactly one budget: epochs={self.epochs}, updates={self.updates}"
            )
        if self.epochs == 0 and self.updates == 0:
            raise ConfigError("updates", "no budget: set updates (server updates) or epochs (passes) > 0")


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
