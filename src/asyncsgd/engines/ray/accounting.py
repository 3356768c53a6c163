"""Every update a ``ray`` run numbered, and every push it recorded, accounted for.

Update numbers are handed out by shard 0, in its apply order (with one shard: its version; with
S shards: one per admitted push, see :mod:`.admission`), so the driver, which reads shard 0's
rows in that order, sees them ascend and knows which it never saw. Each number ends as one of:

* applied: its push reached every shard (the rules of each applied it, or dropped it there);
* a numbered drop (S shards): a push numbered before the shards decided, applied by none;
* torn: its learner died between sending it to some shards and to the others, so only some
  applied it (listed: which shards did, which never received it; an actor applies a part
  whole, so none is cut inside a shard);
* lost: no row of it ever reached the driver (listed; none should be).

A push only shards other than 0 received (its learner died as it sent it, S shards) changed the
parameters with no number: it is torn too, listed with ``update: None``, and counts as an update.
This is the engine's part of ``summary.json``'s ``accounting``
(:func:`asyncsgd.metrics.summary.build_accounting`), whose invariants are then
``updates == applied + numbered_drops + torn + lost`` and ``pushes == applied + rejected +
dropped`` (a torn push is not recorded: it is no whole update).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncsgd.engines.ray.records import Joined


@dataclass
class Accounts:
    shards: int
    unchanged: int = 0
    """Numbered pushes (S shards) that no shard applied."""
    last: int = 0
    """The highest update number seen."""
    gaps: list[int] = field(default_factory=list)
    """Numbers skipped on the way to ``last``, not seen since."""
    torn: list[dict[str, Any]] = field(default_factory=list)

    def _number(self, n: int) -> None:
        if n > self.last:
            self.gaps += range(self.last + 1, n)
            self.last = n
        elif n in self.gaps:  # seen late (a push completed after its learner ended)
            self.gaps.remove(n)

    def count(self, joined: Joined) -> None:
        """A push delivered to the monitor (which counts its kind)."""
        record = joined.record
        if self.shards == 1:
            if record.applied:
                self._number(record.version)
        elif joined.numbered:
            self._number(record.version)
            self.unchanged += not record.applied

    def tear(self, torn: dict[str, Any]) -> None:
        self.torn.append(torn)
        if torn["update"] is not None:
            self._number(torn["update"])

    def report(self, issued: int) -> dict[str, Any]:
        """``EngineResult.extra["accounting"]``; ``issued``: the numbers shard 0 handed out."""
        lost = [*self.gaps, *range(self.last + 1, issued + 1)]
        unnumbered = sum(t["update"] is None for t in self.torn)
        unknown = {"learner": None, "incarnation": None, "applied_shards": None, "cut_shards": None,
                   "missing_shards": None}  # fmt: skip
        return {
            "updates": issued + unnumbered,
            "numbered_drops": self.unchanged,
            "torn_updates": [dict(t) for t in self.torn],
            "lost_updates": [{"update": n, **unknown} for n in lost],
            "unrecorded_pushes": [],
        }

    def state_dict(self) -> dict[str, Any]:
        return {"unchanged": self.unchanged, "last": self.last, "gaps": list(self.gaps),
                "torn": [dict(t) for t in self.torn]}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("unchanged", "last"):
            setattr(self, name, int(state[name]))
        self.gaps = [int(n) for n in state["gaps"]]
        self.torn = [dict(t) for t in state["torn"]]
