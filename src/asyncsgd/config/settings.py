"""Where every setting of a run is declared: the run-level settings here, the engines' in
:mod:`asyncsgd.config.engines`, and each part's beside its class (its ``settings``), read from the
registries at the moment they are asked for, so a part registered after import is known too."""

from __future__ import annotations

import re
from collections.abc import Iterator

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.algorithms.ssp import SSP_BOUND
from asyncsgd.codecs import CODECS
from asyncsgd.config.engines import MAX_LEARNERS, MAX_THREADS, SIM, WALL_CLOCK
from asyncsgd.config.trackers import TRACKING
from asyncsgd.delays import DELAYS
from asyncsgd.registry import Registry
from asyncsgd.rules import OPTIMIZERS, REMEDIES
from asyncsgd.vocabulary.settings import MAX_COUNT, MAX_LR, MAX_RATE, Setting, setting

AUTO_LR = "auto"
DEVICE = re.compile(r"cpu|mps|(cuda|xpu)(:\d+)?")
MAX_WIDTH = 2**24

RUN = (
    # what runs where
    setting("engine", "sim", "execution engine (see `asyncsgd list engines`)"),
    setting(
        "protocol",
        "async",
        "async: Downpour, every push applied on arrival; sync: p gradients averaged behind a "
        "barrier; sequential: one learner, no delay (plain SGD through the same core)",
        choices=("async", "sync", "sequential"),
    ),
    setting("learners", 8, "number of learners p", 1, MAX_LEARNERS),
    setting("seed", 0, "run seed: model init, data order, delays and codec randomness", 0, 2**63 - 1),
    setting(
        "threads",
        0,
        "torch intra-op threads of the run's process (0: one for a model of at most 200,000 "
        "parameters, where it is faster; torch's default above)",
        0,
        MAX_THREADS,
    ),
    setting(
        "device",
        "cpu",
        "torch device of the learners' forward and backward passes and of evaluation: cpu, cuda, "
        "cuda:N (the server, codecs and memories stay on the CPU)",
    ),
    # data and model
    setting("dataset", "mnist5k", "dataset (see `asyncsgd list datasets`)"),
    setting("data_path", "", "file or directory for datasets read from user files"),
    setting("data_seed", 0, "seed of the train/test split", 0, 2**63 - 1),
    setting(
        "validation",
        0.0,
        "fraction of the training set held out for validation (stratified, drawn from data_seed, so "
        "every run with the same data holds out the same samples); learners never see it, evaluations "
        "record val_loss and val_accuracy: choose a rate on it, never on the test set",
        0,
        0.5,
    ),
    setting("partition", "disjoint", "disjoint: one shard per learner; shared: one stream"),
    setting("model", "mlp", "model (see `asyncsgd list models`)"),
    setting(
        "hidden",
        [128],
        "hidden layer widths of the mlp model (at most 64 layers)",
        1,
        MAX_WIDTH,
        kind=list[int],
    ),
    setting("batch_size", 32, "mini-batch size M per gradient", 1, MAX_WIDTH),
    # text datasets (20news, reuters8) and the textbag model
    setting(
        "text_features",
        "tfidf",
        "text datasets: bow (L2-normalised word counts), tfidf, or tokens (padded word ids, for "
        "model=textbag)",
    ),
    setting(
        "text_vocab",
        "top",
        "text datasets: the vocab_size most frequent train words (top) or hashed buckets (hash)",
    ),
    setting("vocab_size", 5000, "text datasets: vocabulary size (words or hash buckets)", 1, 2**24),
    setting("max_tokens", 256, "text_features=tokens: words kept per document", 1, 2**20),
    setting("embed_dim", 64, "width of the word embeddings of model=textbag", 1, 2**16),
    # server rule, compression, algorithm: the names (each part declares its own settings)
    setting(
        "lr",
        0.05,
        "learning rate γ of the server, and of the local steps of localsgd/easgd/eamsgd "
        '(gradients are batch means), or "auto": predicted from the convergence bound with measured '
        "constants (docs/theory.md)",
        0,
        MAX_LR,
        True,
        kind=float | str,
    ),
    setting("rule", "sgd", "server optimizer: sgd (x ← x − γg), momentum, async_momentum or adagrad"),
    setting("remedy", "none", "staleness remedies applied before the optimizer, joined by +"),
    setting("codec", "identity", "gradient codec (see `asyncsgd list codecs`)"),
    setting(
        "error_feedback",
        False,
        "keep what the codec dropped and add it to the next push (always on for codecs defined "
        "with it: efsign, onebit, threshold, dropping)",
    ),
    setting(
        "algorithm",
        "downpour",
        "what learners do: downpour, localsgd, easgd, eamsgd (see `asyncsgd list algorithms`)",
    ),
    SSP_BOUND,
    # budget and metrics
    setting("epochs", 0.0, "budget in passes over the training set (0: use updates)", 0, MAX_RATE),
    setting("updates", 0, "budget in server updates (0: use epochs)", 0, MAX_COUNT),
    setting("eval_every", 0, "evaluate every this many server updates (0: about 25 times)", 0, MAX_COUNT),
    setting(
        "eval_grad_norm",
        False,
        "evaluations also record grad_norm_sq = ‖∇f(x)‖², f the mean training loss on the evaluated "
        "train subset (one backward pass over it per evaluation)",
    ),
    # theory toolkit: how lr = "auto" and `asyncsgd theory` measure and predict (docs/theory.md)
    setting(
        "theory_rate",
        "corollary2",
        "lr = auto: corollary2 (Lian et al., lr = √(D_f/(K·L·σ_M²))) or optimal (minimises "
        "bound (1) under constraint (2) with T = p)",
    ),
    setting("theory_lipschitz", "hessian", "estimate of L that feeds the formulas: hessian or secant"),
    setting(
        "theory_f_low",
        0.0,
        "lower bound on the training loss: D_f = f(x1) − theory_f_low",
        -MAX_COUNT,
        MAX_COUNT,
    ),
    setting(
        "theory_points", 5, "probe points: the initial point, then one every theory_steps SGD steps", 1, 1000
    ),
    setting("theory_steps", 50, "SGD steps between probe points", 1, 10**6),
    setting(
        "theory_probe_lr",
        0.05,
        "learning rate of the probe's SGD steps (batch-mean gradients)",
        0,
        MAX_LR,
        True,
    ),
    setting("theory_batches", 32, "mini-batches drawn at each probe point to estimate σ² (pairs)", 4, 10**5),
    setting(
        "theory_hvp", 20, "most Hessian-vector products per probe point (power iteration for L)", 1, 10**4
    ),
    setting(
        "theory_samples", 512, "samples in the loss whose Hessian and secant give L (0: all)", 0, 2**31 - 1
    ),
    # experiment trackers (config/trackers.py)
    *TRACKING,
)
"""Settings of the run as a whole; the parts' own are declared beside them."""

PARTS: tuple[tuple[str, Registry], ...] = (
    ("codec", CODECS), ("remedy", REMEDIES), ("rule", OPTIMIZERS),
    ("algorithm", ALGORITHMS), ("delay", DELAYS),
)  # fmt: skip
"""The registries whose parts declare settings, each with the setting that names its part."""


def part_settings() -> Iterator[tuple[str, str, Setting | str]]:
    """(kind, part, declaration or name) for every setting a registered part takes, in registry order."""
    for kind, registry in PARTS:
        for entry in registry:
            for item in getattr(entry.factory, "settings", ()):
                yield kind, entry.name, item


def declared() -> dict[str, Setting]:
    """Every setting known now, by name: the run's, the engines', then each registered part's
    (the first declaration of a name; :func:`conflicts` lists any that differ)."""
    found: dict[str, Setting] = {s.name: s for s in (*RUN, *SIM, *WALL_CLOCK)}
    for _, _, item in part_settings():
        if isinstance(item, Setting):
            found.setdefault(item.name, item)
    return found


def conflicts() -> list[str]:
    """Names two parts (or a part and the run) declare differently, and names a part takes that
    nothing declares: each a one-line description."""
    first: dict[str, tuple[str, Setting]] = {s.name: ("the run", s) for s in (*RUN, *SIM, *WALL_CLOCK)}
    problems = []
    for kind, part, item in part_settings():
        where = f"{kind} {part}"
        if isinstance(item, str):
            if item not in first:
                problems.append(f"{where} takes {item!r}, which nothing declares")
            continue
        seen = first.setdefault(item.name, (where, item))
        if seen[1] != item:
            problems.append(f"{where} declares {item.name!r} unlike {seen[0]}: {item} != {seen[1]}")
    return problems


def users() -> dict[str, list[str]]:
    """For each setting, what takes it (``the run``, ``engine sim``, ``codec topk``), for the tables."""
    found: dict[str, list[str]] = {s.name: ["the run"] for s in RUN}
    found.update({s.name: ["engine sim"] for s in SIM})
    found.update({s.name: ["engines local, ray"] for s in WALL_CLOCK})
    for kind, part, item in part_settings():
        found.setdefault(item if isinstance(item, str) else item.name, []).append(f"{kind} {part}")
    return found
