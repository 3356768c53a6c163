"""Per-learner rings of push records in shared memory: learners write, the supervisor reads.

One row per push, all numbers as float64 (exact for integers below 2^53), plus a fixed-size
text field written only when a push is rejected (its reason code and message). A learner fills
the row, then advances its ``head``; the supervisor copies rows up to ``head`` and advances
``tail``. A learner killed mid-row never advanced ``head``, so a torn row is never read.

In server mode every row is written while holding the last shard's lock and stamped with the
next sequence number, then ``totals[PUBLISHED]`` is set to it: reading ``PUBLISHED`` first and the
heads after gives a prefix of the apply order, so records reach the monitor in the order the
server applied them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from asyncsgd.engines.local.shared import PUBLISHED, Shared
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import PHASES, Timing

FIELDS = (
    "seq", "learner", "pulled_version", "version", "tau", "accepted", "applied", "nbytes",
    "bytes_down", "samples", "loss", "grad_norm", "lr", "end", *PHASES,
)  # fmt: skip
COL = {name: i for i, name in enumerate(FIELDS)}
REASON_BYTES = 192
CODE_BYTES = 24


def row_width(shards: int) -> int:
    """Columns of a row: the fields above, then τ of every shard."""
    return len(FIELDS) + shards


@dataclass
class Row:
    """One decoded record, as the supervisor hands it to the monitor."""

    record: ApplyRecord
    timing: Timing
    loss: float
    samples: int
    seq: int
    code: str
    shard_taus: list[int]


class RingWriter:
    def __init__(self, shared: Shared, learner: int, timeout: float) -> None:
        self.rows = shared.arena.numpy(f"ring.{learner}")
        self.reasons = shared.arena.numpy(f"reason.{learner}")
        self.head = shared.arena.numpy("ring_head")[learner]
        self.tail = shared.arena.numpy("ring_tail")[learner]
        self.capacity = self.rows.shape[0]
        self.timeout = timeout

    def write(self, values: list[float], code: str = "", message: str = "") -> float:
        """Publish one row; returns the seconds spent waiting for room (the reader fell behind)."""
        head = int(self.head[0])
        waited = 0.0
        if head - int(self.tail[0]) >= self.capacity:
            start = time.perf_counter()
            while head - int(self.tail[0]) >= self.capacity:
                if time.perf_counter() - start > self.timeout:
                    raise TimeoutError(f"record ring full for {self.timeout:g} s: supervisor not reading")
                time.sleep(0.0005)
            waited = time.perf_counter() - start
        slot = head % self.capacity
        self.rows[slot, : len(values)] = values
        if code:
            text = (
                code.encode()[:CODE_BYTES].ljust(CODE_BYTES) + message.encode()[: REASON_BYTES - CODE_BYTES]
            )
            self.reasons[slot, :] = 0
            self.reasons[slot, : len(text)] = np.frombuffer(text, np.uint8)
        self.head[0] = head + 1  # x86-64 keeps stores in order: the row is visible before the head
        return waited


class RingReader:
    def __init__(self, shared: Shared, learners: int) -> None:
        self.shared = shared
        self.rings = [shared.arena.numpy(f"ring.{i}") for i in range(learners)]
        self.reasons = [shared.arena.numpy(f"reason.{i}") for i in range(learners)]
        self.heads = shared.arena.numpy("ring_head")[:, 0]
        self.tails = shared.arena.numpy("ring_tail")[:, 0]
        self.width = self.rings[0].shape[1] if self.rings else 0
        self._pending: list[tuple[float, float, int, np.ndarray, bytes]] = []

    def drain(self, ordered: bool) -> list[Row]:
        """Every row published so far; in apply order when ``ordered`` (server mode), else by time.

        In server mode rows stamped after the ``PUBLISHED`` mark read first are held back until a
        later call, so a row never overtakes one the server applied before it.
        """
        mark = int(self.shared.totals[PUBLISHED])
        for i, ring in enumerate(self.rings):
            head, tail = int(self.heads[i]), int(self.tails[i])
            cap = ring.shape[0]
            for n in range(tail, head):
                row = ring[n % cap].copy()
                reason = bytes(self.reasons[i][n % cap]) if row[COL["accepted"]] == 0 else b""
                self._pending.append((row[COL["seq"]], row[COL["end"]], i, row, reason))
            self.tails[i] = head
        if ordered:
            ready = [r for r in self._pending if r[0] <= mark]
            self._pending = [r for r in self._pending if r[0] > mark]
        else:
            ready, self._pending = self._pending, []
        ready.sort(key=lambda r: (r[0], r[1]) if ordered else (r[1], r[0]))
        return [decode(row, reason) for *_, row, reason in ready]

    def flush(self, ordered: bool) -> list[Row]:
        """Everything left, whatever the mark (once every learner has stopped)."""
        rows = self.drain(ordered)
        rest, self._pending = self._pending, []
        rest.sort(key=lambda r: (r[0], r[1]) if ordered else (r[1], r[0]))
        return rows + [decode(row, reason) for *_, row, reason in rest]


def decode(row: np.ndarray, reason: bytes) -> Row:
    def i(name: str) -> int:
        return int(row[COL[name]])

    def f(name: str) -> float:
        return float(row[COL[name]])

    code = reason[:CODE_BYTES].rstrip(b"\0 ").decode(errors="replace")
    message = reason[CODE_BYTES:].rstrip(b"\0").decode(errors="replace")
    record = ApplyRecord(
        learner=i("learner"),
        pulled_version=i("pulled_version"),
        version=i("version"),
        tau=i("tau"),
        nbytes=i("nbytes"),
        accepted=bool(i("accepted")),
        applied=bool(i("applied")),
        reason=message,
        grad_norm=f("grad_norm"),
        lr=f("lr"),
    )
    timing = Timing(**{p: f(p) for p in PHASES}, end=f("end"), bytes_down=i("bytes_down"))
    taus = [int(t) for t in row[len(FIELDS) :]]
    return Row(record, timing, f("loss"), i("samples"), i("seq"), code, taus)
