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
    device: str = setting(
        "cpu",
        "torch device of the learners' forward and backward passes and of evaluation: cpu, cuda, "
        "cuda:N (the server, codecs and memories stay on the CPU)",
    )
    # data and model
    dataset: str = setting("mnist5k", "dataset (see `asyncsgd list datasets`)")
    data_path: str = setting("", "file or directory for datasets read from user files")
    data_seed: int = setting(0, "seed of the train/test split")
    partition: str = setting("disjoint", "disjoint: one shard per learner; shared: one stream")
    model: str = setting("mlp", "model (see `asyncsgd list models`)")
    hidden: list[int] = setting([128], "hidden layer widths of the mlp model")
    batch_size: int = setting(32, "mini-batch size M per gradient")
    # text datasets (20news, reuters8) and the textbag model
    text_features: str = setting(
        "tfidf",
        "text datasets: bow (L2-normalised word counts), tfidf, or tokens (padded word ids, for "
        "model=textbag)",
    )
    text_vocab: str = setting(
        "top", "text datasets: the vocab_size most frequent train words (top) or hashed buckets (hash)"
    )
    vocab_size: int = setting(5000, "text datasets: vocabulary size (words or hash buckets)")
    max_tokens: int = setting(256, "text_features=tokens: words kept per document")
    embed_dim: int = setting(64, "width of the word embeddings of model=textbag")
    # server rule
    lr: float | str = setting(
        0.05,
        "learning rate γ of the server, and of the local steps of localsgd/easgd/eamsgd "
        '(gradients are batch means), or "auto": predicted from the convergence bound with measured '
        "constants (docs/theory.md)",
    )
    rule: str = setting("sgd", "server optimizer: sgd (x ← x − γg), momentum, async_momentum or adagrad")
    momentum: float = setting(
        0.9, "momentum μ of rule=momentum; target total momentum of rule=async_momentum; δ of eamsgd"
    )
    nesterov: bool = setting(False, "Nesterov variant of rule=momentum")
    remedy: str = setting("none", "staleness remedies applied before the optimizer, joined by +")
    # learner-side compression
    codec: str = setting("identity", "gradient codec (see `asyncsgd list codecs`)")
    ratio: float = setting(
        0.01, "fraction of coordinates kept by the sparsifiers (topk, randomk, dropping, wangni), in (0, 1]"
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
        1, "localsgd: local steps H per push; easgd/eamsgd: local steps τ_c between exchanges"
    )
    elastic_alpha: float = setting(0.1, "easgd/eamsgd: moving rate α of the elastic exchange (β = p·α)")
    dc_lambda: float = setting(0.04, "dc_asgd: λ of the delay compensation; dc_asgd_adaptive: λ0")
    dc_momentum: float = setting(0.95, "dc_asgd_adaptive: decay m of the running mean square of g")
    stale_bound: float = setting(math.inf, "drop_stale: discard a push whose staleness τ exceeds this")
    ssp_bound: int = setting(
        -1,
        "bounded staleness (SSP): a learner more than this many pushes ahead of the slowest "
        "waits (−1: off, 0: bulk-synchronous)",
    )
    adagrad_eps: float = setting(1e-10, "rule=adagrad: ε in x ← x − γ·g/(√G + ε)")
    levels: int = setting(7, "qsgd: levels s per sign (codes take 2, 4, 8 or 16 bits)")
    bucket: int = setting(512, "qsgd: coordinates sharing one norm (0: one per scope group)")
    clip: float = setting(2.5, "terngrad: clip to ±clip·σ before ternarising (0: off, unbiased)")
    threshold: float = setting(0.05, "threshold: Strom's τ; ±τ is sent where |m + g| ≥ τ")
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
    # real engines: local (learner processes, parameters in shared memory) and ray (actors)
    shards: int = setting(
        1, "local, ray: parameter-server shards S, each with its own version counter and lock or actor"
    )
    learner_threads: int = setting(1, "local, ray: torch intra-op threads per learner process or actor")
    hogwild: bool = setting(False, "local: learners add updates to the shared parameters without locks")
    respawn: bool = setting(False, "local, ray: restart a learner process or actor that dies")
    timeout: float = setting(60.0, "local, ray: longest any blocking wait or remote call may last, seconds")
    ray_address: str = setting(
        "",
        "ray: address of a running Ray cluster to join (host:port, or auto); empty: start a private Ray "
        "instance on 127.0.0.1 for the run",
    )
    ray_cpus_per_learner: float = setting(1.0, "ray: CPUs each learner actor reserves from the cluster")
    ray_gpus_per_learner: float = setting(
        0.0, "ray: GPUs each learner actor reserves (fractions share a GPU); needed for device=cuda"
    )
    ray_cpus_per_shard: float = setting(1.0, "ray: CPUs each parameter-server shard actor reserves")
    checkpoint_every: int = setting(0, "save a checkpoint every this many updates (0: never); see --resume")
    # budget and metrics
    epochs: float = setting(0.0, "budget in passes over the training set (0: use updates)")
    updates: int = setting(0, "budget in server updates (0: use epochs)")
    eval_every: int = setting(0, "evaluate every this many server updates (0: about 25 times)")
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
    theory_f_low: float = setting(0.0, "lower bound on the training loss: D_f = f(x1) − theory_f_low")
    theory_points: int = setting(5, "probe points: the initial point, then one every theory_steps SGD steps")
    theory_steps: int = setting(50, "SGD steps between probe points")
    theory_probe_lr: float = setting(0.05, "learning rate of the probe's SGD steps (batch-mean gradients)")
    theory_batches: int = setting(32, "mini-batches drawn at each probe point to estimate σ² (>= 4)")
    theory_hvp: int = setting(20, "most Hessian-vector products per probe point (power iteration for L)")
    theory_samples: int = setting(512, "samples in the loss whose Hessian and secant give L (0: all)")

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

    def canonical(self) -> str:
        """These settings as canonical JSON: sorted keys, no spaces, shortest round-trip floats
        (``Infinity`` for an infinite value); a run's id hashes it (``asyncsgd.sweep.spec.run_id``)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> None:
        def need(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise ConfigError(key, f"{message}, got {getattr(self, key)!r}")

        need(self.learners >= 1, "learners", "must be >= 1")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        auto = self.lr == AUTO_LR
        rate_ok = isinstance(self.lr, float) and self.lr > 0 and math.isfinite(self.lr)
        need(auto or rate_ok, "lr", f'must be a finite number > 0 or "{AUTO_LR}"')
        need(0 < self.ratio <= 1, "ratio", "must be in (0, 1]")
        need(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        # the catalogue
        need(self.local_steps >= 1, "local_steps", "must be >= 1")
        need(0 < self.elastic_alpha <= 1, "elastic_alpha", "must be in (0, 1]")
        finite = math.isfinite
        need(self.dc_lambda >= 0 and finite(self.dc_lambda), "dc_lambda", "must be a finite number >= 0")
        need(0 <= self.dc_momentum < 1, "dc_momentum", "must be in [0, 1)")
        need(self.stale_bound >= 0, "stale_bound", "must be >= 0 (inf: drop nothing)")
        need(self.ssp_bound >= -1, "ssp_bound", "must be >= 0, or -1 for off")
        need(self.adagrad_eps > 0 and finite(self.adagrad_eps), "adagrad_eps", "must be a finite number > 0")
        need(1 <= self.levels <= 2**15 - 1, "levels", "must be an integer in [1, 32767]")
        need(self.bucket >= 0, "bucket", "must be >= 0")
        need(self.clip >= 0 and finite(self.clip), "clip", "must be a finite number >= 0")
        need(self.threshold > 0 and finite(self.threshold), "threshold", "must be a finite number > 0")
        need(self.threads >= 0, "threads", "must be >= 0")
        need(DEVICE.fullmatch(self.device) is not None, "device", "must be cpu, cuda, cuda:N, mps or xpu[:N]")
        need(all(h >= 1 for h in self.hidden), "hidden", "widths must be >= 1")
        # text datasets and the textbag model
        need(1 <= self.vocab_size <= 2**24, "vocab_size", "must be in [1, 2^24]")
        need(self.max_tokens >= 1, "max_tokens", "must be >= 1")
        need(self.embed_dim >= 1, "embed_dim", "must be >= 1")
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
        # theory toolkit
        need(math.isfinite(self.theory_f_low), "theory_f_low", "must be a finite number")
        for key in ("theory_points", "theory_steps", "theory_hvp"):
            need(getattr(self, key) >= 1, key, "must be >= 1")
        need(self.theory_batches >= 4, "theory_batches", "must be >= 4 (pairs of mini-batches)")
        need(self.theory_samples >= 0, "theory_samples", "must be >= 0")
        ok = self.theory_probe_lr > 0 and math.isfinite(self.theory_probe_lr)
        need(ok, "theory_probe_lr", "must be a finite number > 0")
        need(self.shards >= 1, "shards", "must be >= 1")
        need(self.learner_threads >= 1, "learner_threads", "must be >= 1")
        need(self.timeout > 0 and math.isfinite(self.timeout), "timeout", "must be a finite number > 0")
        for key in ("ray_cpus_per_learner", "ray_gpus_per_learner", "ray_cpus_per_shard"):
            value = getattr(self, key)
            need(value >= 0 and math.isfinite(value), key, "must be a finite number >= 0")
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
