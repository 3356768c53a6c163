"""The driver's side of the records: shard rows joined into one record per push, in apply order.

Shard 0 numbers the pushes it handles (``seq``), so its rows, drained in order, *are* the apply
order. A push is delivered to the monitor once its record is complete:

* with S shards, the rows of the other S − 1 shards are in (they carry each τ_s; the push's τ is
  ``max_s τ_s``, and its update number is the one shard 0 gave it, as in the ``local`` engine);
* its ``push`` phase, which the learner learns only when the reply is back and sends with its
  next call (or in the result of its run), is in.

A learner that ended (its run returned or it died) and whose last rows have been drained never
completes anything again: its rows are delivered as they are (a dead learner's last push has
``push = 0``). With S shards, a push of a dead learner that some shards never received is *torn*:
it is set aside, not delivered (it is no whole update), and :meth:`Joiner.settle` reports it with
the shards that applied it once no row can still come (a row sent just before the death may
arrive late; it then completes the push after all).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from asyncsgd.engines.ray.protocol import PUSH, REJECTED, ShardRow
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import Timing

Key = tuple[int, int, int]
"""(learner, incarnation, push number)."""


def key(row: ShardRow) -> Key:
    return row.learner, row.incarnation, row.n


@dataclass
class Joined:
    record: ApplyRecord
    timing: Timing
    loss: float
    samples: int
    code: str
    shard_taus: list[int]
    numbered: bool = False
    """Shard 0 gave it an update number (S shards: every push it admitted, applied or not)."""


class Joiner:
    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.queue: deque[ShardRow] = deque()
        self.parts: dict[Key, dict[int, ShardRow]] = {}
        self.patches: dict[Key, tuple[float, float]] = {}
        self.closed: set[tuple[int, int]] = set()
        self.incomplete: dict[Key, ShardRow] = {}
        """Shard 0's rows of pushes whose learner ended before every shard's row came."""

    def add(self, shard: int, rows: list[ShardRow]) -> None:
        for row in rows:
            if row.previous is not None:
                self.patches[(row.learner, row.incarnation, row.n - 1)] = row.previous
            if shard == 0:
                self.queue.append(row)
            else:
                self.parts.setdefault(key(row), {})[shard] = row

    def patch(self, learner: int, incarnation: int, n: int, push: float, apply: float) -> None:
        self.patches[(learner, incarnation, n)] = (push, apply)

    def close(self, learner: int, incarnation: int) -> None:
        """Nothing more will come from this incarnation (call after draining past its end)."""
        self.closed.add((learner, incarnation))

    def complete(self, head: ShardRow) -> bool:
        """Every shard's row of this push is in."""
        parts = self.parts.get(key(head), {})
        return self.shards == 1 or head.kind == REJECTED or len(parts) == self.shards - 1

    def ready(self, force: bool = False) -> list[Joined]:
        """Complete records in apply order (with ``force``: everything left, as after the end)."""
        out = []
        while self.queue:
            head = self.queue[0]
            k = key(head)
            gone = force or (head.learner, head.incarnation) in self.closed
            complete = self.complete(head)
            if not ((complete or gone) and (k in self.patches or gone)):
                break
            self.queue.popleft()
            if complete:
                out.append(self.join(head, self.parts.pop(k, {}), self.patches.pop(k, None)))
            else:
                self.incomplete[k] = head
        return out

    def settle(self) -> tuple[list[Joined], list[dict[str, Any]]]:
        """Once every learner set aside has ended and the shards have been drained since: the
        pushes completed late (delivered out of order), and the torn ones. A push only shards
        other than 0 received (the learner died as it sent it) is torn too, with no update number."""
        late, torn = [], []
        for k, head in sorted(self.incomplete.items(), key=lambda item: item[1].seq):
            if self.complete(head):
                late.append(self.join(head, self.parts.pop(k, {}), self.patches.pop(k, None)))
            else:
                torn.append(self.torn(head.version, k, {0: head, **self.parts.pop(k, {})}))
        self.incomplete.clear()
        queued = {key(row) for row in self.queue}
        for k in [k for k in self.parts if k not in queued and k[:2] in self.closed]:
            torn.append(self.torn(None, k, self.parts.pop(k)))
        return late, torn

    def torn(self, update: int | None, k: Key, rows: dict[int, ShardRow]) -> dict[str, Any]:
        return {
            "update": update, "learner": k[0], "incarnation": k[1], "push": k[2],
            "applied_shards": sorted(s for s, r in rows.items() if r.applied), "cut_shards": [],
            "missing_shards": sorted(set(range(self.shards)) - set(rows)),
        }  # fmt: skip

    @property
    def pending(self) -> int:
        return len(self.queue)

    def join(self, head: ShardRow, parts: dict[int, ShardRow], patch: tuple[float, float] | None) -> Joined:
        rows = [head, *(parts[s] for s in sorted(parts))]
        taus = [r.tau for r in rows]
        if self.shards == 1:
            accepted, applied, tau, pulled = head.accepted, head.applied, head.tau, head.pulled
            grad_norm = head.grad_norm
        else:
            accepted = all(r.accepted for r in rows)
            applied = accepted and any(r.applied for r in rows)
            tau = max(taus)
            pulled = head.version - 1 - tau if accepted else head.pulled
            grad_norm = math.sqrt(sum(r.grad_norm**2 for r in rows))
        push, apply = patch if patch is not None else (0.0, max(r.apply for r in rows))
        record = ApplyRecord(
            learner=head.learner, pulled_version=pulled, version=head.version, tau=tau, nbytes=head.nbytes,
            accepted=accepted, applied=applied, reason=next((r.reason for r in rows if r.reason), ""),
            grad_norm=grad_norm, lr=head.lr,
        )  # fmt: skip
        timing = Timing(
            pull=head.pull, compute=head.compute, compress=head.compress, push=push, wait=head.wait,
            apply=apply, end=max(r.end for r in rows), bytes_down=head.down,
        )  # fmt: skip
        code = next((r.code for r in rows if r.code), "")
        numbered = self.shards > 1 and head.kind == PUSH
        return Joined(record, timing, head.loss, head.samples, code, taus, numbered)
