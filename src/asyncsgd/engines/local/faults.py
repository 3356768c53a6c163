"""A learner process that ended before the run did: settled, recorded, accounted for, replaced.

The supervisor learns of a death through the process sentinel. By then a survivor may already
have taken over a lock the dead learner held (and settled the shard, see :mod:`.flight`); the
supervisor takes over the others itself, so that every counter is settled before it reads the dead
learner's record, says which of its updates was torn or lost, clears the record and, with
``respawn = true``, starts a replacement. A replacement that dies while it is being started, or
before it is ready, is one more death; it is not replaced again (a learner that cannot start
would otherwise be restarted forever).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from asyncsgd.engines.local.flight import (
    SUPERVISOR,
    forget,
    in_flight,
    settle_hogwild,
    take_over,
    take_overs,
)
from asyncsgd.engines.local.shared import Shared
from asyncsgd.engines.local.supervisor import Death, Handle, Supervisor

if TYPE_CHECKING:
    from asyncsgd.engines.local.engine import _Run

KINDS = {"torn": "torn_updates", "lost": "lost_updates", "unrecorded": "unrecorded_pushes"}


class Faults:
    def __init__(self, run: _Run, shared: Shared, sup: Supervisor) -> None:
        self.run = run
        self.shared = shared
        self.sup = sup

    def ended(self, handle: Handle) -> None:
        """A learner process ended: nothing to do if it finished, else settle and record its death."""
        run, shared, i = self.run, self.shared, handle.learner
        if shared.done[i] == handle.incarnation:
            return
        if run.cfg.hogwild:
            settle_hogwild(shared, i)
        # every shard lock once: a lock it died holding is settled now, by a survivor or by us, and
        # each take-over is in the shards' log, which names the dead owner
        self.settle_all()
        me = (i, handle.incarnation)
        taken = [e for e in take_overs(shared) if (e["owner"], e["owner_incarnation"]) == me]
        starting = int(shared.ready[i]) != handle.incarnation
        death = Death(
            i, handle.incarnation, run.now(), handle.process.exitcode, sorted({e["shard"] for e in taken}),
            run.server_updates(), in_flight=in_flight(shared, i, run.cfg.hogwild),
            cause="died while starting" if starting else "",
            taken_over=[{"shard": e["shard"], "by": "supervisor" if e["heir"] == SUPERVISOR else e["heir"]}
                        for e in taken],
        )  # fmt: skip
        forget(shared, i)
        self._replace(i, death, starting)

    def _replace(self, i: int, death: Death, starting: bool) -> None:
        run, shared = self.run, self.shared
        if run.lost(death, not shared.stopping and run.origin is not None and not starting):
            try:
                self.sup.start(run._args(shared, i, None))
            except (OSError, EOFError) as err:  # the replacement died while it was being started
                cause = f"could not be started: {type(err).__name__}: {err}"
                inc, updates = run.book.incarnations[i], run.server_updates()
                run.lost(Death(i, inc, run.now(), None, [], updates, cause=cause), replaceable=False)
            else:
                death.respawned = True
                return
        shared.gone[i] = 1

    def settle_all(self) -> None:
        """Take over every shard lock once: a lock whose owner died is settled before the counters
        are read. Records are drained meanwhile: a learner holding a lock may be waiting for room
        in its record ring."""
        if self.run.cfg.hogwild:
            return
        for s in range(self.shared.spec.shards):
            deadline = time.perf_counter() + self.run.cfg.timeout
            while True:
                try:
                    take_over(self.shared, s, 0.05)
                    break
                except TimeoutError:
                    if time.perf_counter() > deadline:
                        break
                    self.run.drain()

    def extra(self) -> dict[str, Any]:
        """Take-overs of a lock whose dead owner could not be named (it died between taking the
        lock and noting it); none, almost always."""
        unknown = [e for e in take_overs(self.shared) if e["owner"] < 0]
        return {"unattributed_lock_take_overs": unknown} if unknown else {}

    def accounting(self, updates: int, numbered_drops: int) -> dict[str, Any]:
        """The engine's part of the summary's ``accounting``: the update numbers issued, and every
        push a death cut before its record came out, by kind."""
        out: dict[str, Any] = {"updates": updates, "numbered_drops": numbered_drops}
        out |= {key: [] for key in KINDS.values()}
        for death in self.run.book.deaths:
            if death.in_flight:
                entry = {k: v for k, v in death.in_flight.items() if k != "kind"}
                out[KINDS[death.in_flight["kind"]]].append(entry)
        return out
