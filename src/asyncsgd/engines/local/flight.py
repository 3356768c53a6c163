"""What each learner's push in progress has done, so that a death leaves no update unaccounted for.

A learner applies its own pushes, shard by shard, under each shard's lock. Killed in the middle, it
can leave an update applied to some shards and not to others, a shard's parameters half written,
and the counters it was about to advance behind. So before changing anything it notes, in its own
record in the arena (cache lines no other process writes while it lives), what it is about to do:

* at the start of a push, holding no lock: no shard touched yet, and where the head of its record
  ring stands (publishing the push's record moves the head, so whether the record is out is read
  off the ring itself);
* under shard 0's lock, before admitting the push: the counters as they were (samples, shard 0's
  version, and with S > 1 the update number it reserves), then ``inside = 1``;
* under shard s's lock: the shard's version, ``inside = s + 1``, the shard's state ``STARTED``;
  once the apply returned ``APPLIED`` (or ``SETTLED``: refused or dropped); then the shard's version
  is written and ``inside = 0``.

Whoever next takes a lock whose owner died (a learner or the supervisor: the robust mutex tells
exactly one of them) *settles* the shard before anything else: if the dead learner was inside it,
the shard's version (and, at shard 0, the run's counters) are set from the record to what they are
with that push counted, so the numbering goes on with neither a gap nor a double. An apply cut in
the middle counts as an update of that shard: its parameters may hold part of it. The heir also
notes whom it took the lock over from. The supervisor then reads the dead learner's record and
says which update was *torn* (applied to some shards, cut in one, missing from others) or *lost*
(numbered, but its record never came out).

Every note is one store into the learner's own record: no memory pass is added to a push.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from asyncsgd.engines.local.shared import HEIR_SLOTS, SAMPLES, UPDATES, Shared

# flight[i, ...]
PUSH, INSIDE, TICKET, BEFORE, SAMPLES0, SAMPLES_N, HEAD, ADMITTED, INCARNATION = range(9)
# flight_shards[i, s]
UNTOUCHED, STARTED, APPLIED, SETTLED = 0, 1, 2, 3
SUPERVISOR = -1
"""The heir recorded when the supervisor took a dead learner's lock over."""


class Flight:
    """A learner's own record (written only by that learner while it lives)."""

    def __init__(self, shared: Shared, learner: int, incarnation: int) -> None:
        self.row = shared.flight[learner]
        self.states = shared.flight_shards[learner, : shared.spec.shards]
        self.held = shared.locks_held[learner, : shared.spec.shards]
        self.head = shared.arena.numpy("ring_head")[learner]
        self.row[INCARNATION] = incarnation

    def begin(self) -> None:
        """A new push, before any lock: nothing admitted, no shard touched, its record not out."""
        row = self.row
        row[ADMITTED] = 0
        row[TICKET] = 0
        self.states.fill(UNTOUCHED)
        row[HEAD] = self.head[0]
        row[PUSH] += 1

    def admit(self, samples_before: int, version: int, samples: int, ticket: int) -> None:
        """Under shard 0's lock, before the counters change: what a settle would restore them to."""
        row = self.row
        row[SAMPLES0] = samples_before
        row[SAMPLES_N] = samples
        row[BEFORE] = version
        row[TICKET] = ticket
        row[INSIDE] = 1  # from here on, a settle of shard 0 completes the admission
        row[ADMITTED] = 1

    def enter(self, s: int, version: int) -> None:
        """Under shard ``s``'s lock, before its state changes (shard 0: after :meth:`admit`)."""
        if s:
            self.row[BEFORE] = version
            self.row[INSIDE] = s + 1


def settle(shared: Shared, s: int, heir: int) -> None:
    """Under shard ``s``'s lock, just taken over from an owner that died holding it: count the dead
    owner's push in that shard as its record says, note the take-over, and forget the hold.

    The owner is the learner inside the shard, or else the one still marked as holding its lock
    (only a dead owner can be, while we hold it); -1 if it died before marking its hold."""
    spec = shared.spec
    inside = [j for j in range(spec.learners) if shared.flight[j, INSIDE] == s + 1]
    marked = [int(j) for j in np.flatnonzero(shared.locks_held[: spec.learners, s]) if int(j) != heir]
    owner = (inside or marked or [-1])[0]
    n = int(shared.heir_count[s])
    incarnation = int(shared.flight[owner, INCARNATION]) if owner >= 0 else 0
    shared.heirs[s, n % HEIR_SLOTS] = (n + 1, heir, owner, incarnation)
    shared.heir_count[s] = n + 1
    for j in inside:
        row = shared.flight[j]
        state = shared.flight_shards[j, s]
        shared.versions[s] = row[BEFORE] + int(state in (STARTED, APPLIED))
        if s == 0:
            shared.totals[SAMPLES] = row[SAMPLES0] + row[SAMPLES_N]
            row[ADMITTED] = 1
            if spec.shards > 1 and row[TICKET]:
                shared.totals[UPDATES] = row[TICKET]
            elif spec.shards == 1:
                shared.totals[UPDATES] = shared.versions[0]
        row[INSIDE] = 0
    for j in marked:
        shared.locks_held[j, s] = 0
    if shared.changes:  # the dead owner may have been writing the shard's change log
        shared.changes[s].invalidate()


def settle_hogwild(shared: Shared, j: int) -> None:
    """Hogwild has no locks: the supervisor settles a dead learner's own counters (before any
    replacement uses them)."""
    row = shared.flight[j]
    if row[INSIDE] != 1:
        return
    shared.hog[j] = row[BEFORE] + int(shared.flight_shards[j, 0] in (STARTED, APPLIED))
    shared.hog_samples[j] = row[SAMPLES0] + row[SAMPLES_N]
    row[INSIDE] = 0


def take_over(shared: Shared, s: int, timeout: float) -> bool:
    """The supervisor takes shard ``s``'s lock and releases it, settling it if its owner died."""
    mutex = shared.mutexes[s]
    died = mutex.acquire(timeout)
    try:
        if died:
            settle(shared, s, SUPERVISOR)
    finally:
        mutex.release()
    return died


def in_flight(shared: Shared, j: int, hogwild: bool) -> dict[str, Any] | None:
    """Learner ``j``'s push that a death cut before its record came out (after settling), or None.

    ``update`` is its number (None for Hogwild, which has no order, and for a push that never had
    one); ``kind`` is ``torn`` (applied to some shards but not all, or cut in the middle of one),
    ``lost`` (numbered, its record lost, and applied to no shard or to every one) or
    ``unrecorded`` (no number: refused or not yet applied, it changed no parameter)."""
    row = shared.flight[j]
    if not row[ADMITTED] or int(shared.ring_head[j]) != int(row[HEAD]):
        return None
    shards = shared.spec.shards
    states = [int(v) for v in shared.flight_shards[j, :shards]]
    applied = [s for s, v in enumerate(states) if v == APPLIED]
    cut = [s for s, v in enumerate(states) if v == STARTED]
    missing = [s for s, v in enumerate(states) if v == UNTOUCHED]
    if shards > 1:
        number: int | None = int(row[TICKET]) or None
        counted = number is not None
    else:
        counted = states[0] in (STARTED, APPLIED)
        number = int(row[BEFORE]) + 1 if counted and not hogwild else None
    if not counted:
        kind = "unrecorded"
    elif cut or (applied and missing):
        kind = "torn"
    else:
        kind = "lost"
    return {
        "update": number,
        "kind": kind,
        "learner": j,
        "incarnation": int(row[INCARNATION]),
        "applied_shards": applied,
        "cut_shards": cut,
        "missing_shards": missing,
    }


def forget(shared: Shared, j: int) -> None:
    """Clear a dead learner's record once it is settled and read (before a replacement starts)."""
    shared.flight[j, :] = 0
    shared.flight_shards[j, :] = 0
    shared.locks_held[j, :] = 0


def take_overs(shared: Shared) -> list[dict[str, int]]:
    """Every take-over of a dead owner's lock the shards remember, in order per shard."""
    out = []
    for s in range(shared.spec.shards):
        n = int(shared.heir_count[s])
        for k in range(max(0, n - HEIR_SLOTS), n):
            _seq, heir, owner, incarnation = (int(v) for v in shared.heirs[s, k % HEIR_SLOTS])
            out.append({"shard": s, "heir": heir, "owner": owner, "owner_incarnation": incarnation})
    return out
