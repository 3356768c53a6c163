"""What the processes of a ``local`` run share, and where it lives in the arena.

* ``params``: the flat parameter vector (float32), split into S shards by a
  :class:`~asyncsgd.core.shards.ShardPlan`; ``versions[s]`` and ``mutex.s`` per shard.
* ``rule.s.k``: every tensor of shard s's server-rule state (momentum buffers, remedy state), so
  whichever learner holds the shard's lock updates the one and only copy.
* ``totals``: updates, samples and the published record sequence number (under the locks);
  ``control``: stop / go / pause / resume flags written by the supervisor; per-learner ``ready``,
  ``done``, ``acked`` and (Hogwild) ``hog`` counters; ``clock`` (pushes handled, for bounded
  staleness), ``gone`` (dead and not respawned: no longer holds the others back) and
  ``change_pulls`` (shard pulls that copied only the changed coordinates).
* ``ring.i`` / ``reason.i``: learner i's record ring (see :mod:`.records`); ``eval``: snapshots of
  the parameters at the versions due for evaluation.
* ``changes.s``: the coordinates shard s's last updates changed (see
  :mod:`asyncsgd.engines.change_log`), when the codec and rule make sparse updates possible.
* ``flight``, ``flight_shards``, ``locks_held``: what each learner's current push has done so far
  and which shard locks it holds; ``heirs.s``: who took over shard s's lock from a learner that died
  holding it (see :mod:`.flight`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from asyncsgd.core.shards import ShardPlan
from asyncsgd.engines.change_log import ChangeLog
from asyncsgd.engines.local.arena import Arena, Layout
from asyncsgd.engines.local.mutex import MUTEX_BYTES, RobustMutex

# totals[...]
UPDATES, SAMPLES, PUBLISHED, BATCHES = 0, 1, 2, 3
# control[...]
STOP, GO, PAUSE, RESUME, ORIGIN_NS, MARK = 0, 1, 2, 3, 4, 5
PAD = 8  # int64 per learner row: one cache line, so learners never write the same line
FLIGHT_FIELDS = 16  # int64 per learner in ``flight`` (two cache lines)
HEIR_SLOTS = 64  # lock take-overs each shard remembers
EVAL_BYTES = 64 * 2**20  # memory for evaluation snapshots: 8 of them, fewer for big models


def eval_slots(size: int) -> int:
    return int(min(8, max(2, EVAL_BYTES // (4 * max(size, 1)))))


def _fields(tree: Any) -> dict[str, Any]:
    return {f.name: getattr(tree, f.name) for f in dataclasses.fields(tree)}


def tensor_leaves(tree: Any, path: str = "") -> list[tuple[str, torch.Tensor]]:
    """Every tensor in a nest of dicts, lists, tuples and dataclasses, with a dotted path."""
    if isinstance(tree, torch.Tensor):
        return [(path, tree)]
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return tensor_leaves(_fields(tree), path)
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree, key=str) for leaf in tensor_leaves(tree[k], f"{path}.{k}")]
    if isinstance(tree, list | tuple):
        return [leaf for i, v in enumerate(tree) for leaf in tensor_leaves(v, f"{path}.{i}")]
    return []


def replace_leaves(tree: Any, new: Callable[[str, torch.Tensor], torch.Tensor], path: str = "") -> Any:
    """The same nest with each tensor replaced by ``new(path, tensor)``."""
    if isinstance(tree, torch.Tensor):
        return new(path, tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return dataclasses.replace(tree, **replace_leaves(_fields(tree), new, path))
    if isinstance(tree, dict):
        return {k: replace_leaves(v, new, f"{path}.{k}") for k, v in tree.items()}
    if isinstance(tree, list):
        return [replace_leaves(v, new, f"{path}.{i}") for i, v in enumerate(tree)]
    if isinstance(tree, tuple):
        return tuple(replace_leaves(v, new, f"{path}.{i}") for i, v in enumerate(tree))
    return tree


@dataclass(frozen=True)
class Spec:
    """Sizes that fix the layout; identical in every process of a run."""

    size: int
    shards: int
    learners: int
    ring_rows: int
    row_width: int
    rule_leaves: tuple[tuple[tuple[str, str, tuple[int, ...]], ...], ...]
    """Per shard: (path, dtype, shape) of each tensor of the rule state."""
    change_slots: int = 0
    change_width: int = 0
    """Each shard's change log: updates kept, coordinates per update (0: no log)."""

    @property
    def shard_bytes(self) -> int:
        """Bytes of a learner's row of per-shard flags (whole cache lines)."""
        return -(-self.shards // 64) * 64

    def layout(self) -> Layout:
        lay = Layout()
        lay.add("params", "float32", self.size)
        lay.add("versions", "int64", (self.shards, PAD))
        lay.add("mutex.data", "uint8", MUTEX_BYTES)
        for s in range(self.shards):
            lay.add(f"mutex.{s}", "uint8", MUTEX_BYTES)
            for path, dtype, shape in self.rule_leaves[s]:
                lay.add(f"rule.{s}{path}", dtype, shape)
            if self.change_slots:
                lay.add(f"changes.{s}.tags", "int64", (self.change_slots + 1, 2))  # + the epoch
                lay.add(f"changes.{s}.indices", "int32", (self.change_slots, self.change_width))
        lay.add("totals", "int64", 2 * PAD)
        lay.add("control", "int64", 2 * PAD)
        for name in (
            "ready",
            "done",
            "acked",
            "hog",
            "hog_samples",
            "ring_head",
            "ring_tail",
            "clock",
            "gone",
            "change_pulls",
        ):
            lay.add(name, "int64", (self.learners, PAD))
        for i in range(self.learners):
            lay.add(f"ring.{i}", "float64", (self.ring_rows, self.row_width))
            lay.add(f"reason.{i}", "uint8", (self.ring_rows, 192))
        lay.add("flight", "int64", (self.learners, FLIGHT_FIELDS))
        lay.add("flight_shards", "int8", (self.learners, self.shard_bytes))
        lay.add("locks_held", "int8", (self.learners, self.shard_bytes))
        lay.add("heirs", "int64", (self.shards, HEIR_SLOTS, 4))
        lay.add("heir_count", "int64", (self.shards, PAD))
        lay.add("eval_params", "float32", (eval_slots(self.size), self.size))
        lay.add("eval_version", "int64", (eval_slots(self.size), PAD))
        return lay


class Shared:
    """Typed views of a run's arena (the same class in the supervisor and in every learner)."""

    def __init__(self, spec: Spec, arena: Arena) -> None:
        self.spec = spec
        self.arena = arena
        self.plan = ShardPlan(spec.size, spec.shards)
        self.params = arena.tensor("params")
        self.versions = arena.numpy("versions")[:, 0]
        self.mutexes = [RobustMutex(arena.address_of(f"mutex.{s}")) for s in range(spec.shards)]
        self.data_mutex = RobustMutex(arena.address_of("mutex.data"))
        self.totals = arena.numpy("totals")
        self.control = arena.numpy("control")
        self.ready = arena.numpy("ready")[:, 0]
        self.done = arena.numpy("done")[:, 0]
        self.acked = arena.numpy("acked")[:, 0]
        self.hog = arena.numpy("hog")[:, 0]
        self.hog_samples = arena.numpy("hog_samples")[:, 0]
        self.clock = arena.numpy("clock")[:, 0]
        self.gone = arena.numpy("gone")[:, 0]
        self.change_pulls = arena.numpy("change_pulls")[:, 0]
        self.flight = arena.numpy("flight")
        self.flight_shards = arena.numpy("flight_shards")
        self.locks_held = arena.numpy("locks_held")
        self.heirs = arena.numpy("heirs")
        self.heir_count = arena.numpy("heir_count")[:, 0]
        self.ring_head = arena.numpy("ring_head")[:, 0]
        self.eval_params = arena.tensor("eval_params")
        self.eval_version = arena.numpy("eval_version")[:, 0]
        self.changes = [
            ChangeLog(arena.numpy(f"changes.{s}.tags"), arena.tensor(f"changes.{s}.indices"))
            for s in range(spec.shards)
            if spec.change_slots
        ]

    def init_locks(self) -> None:
        """Initialise every mutex of the arena (once, by the process that created it)."""
        for mutex in [self.data_mutex, *self.mutexes]:
            mutex.init()

    def rule_tensor(self, shard: int, path: str) -> torch.Tensor:
        return self.arena.tensor(f"rule.{shard}{path}")

    def shard_params(self, shard: int) -> torch.Tensor:
        start, stop = self.plan.bounds(shard)
        return self.params[start:stop]

    @property
    def stopping(self) -> bool:
        return bool(self.control[STOP])
