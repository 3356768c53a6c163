"""The ``ray`` driver's side of its learner actors: starting them, the long ``run`` call it holds on
each, and what happens when one ends, pauses or dies.

A learner's ``run`` ends when shard 0 ends, pauses or refuses it; the driver then has its state
(for a checkpoint) and the phases of its last push, and may call ``run`` again. An actor that dies
fails that call: the death is recorded, a reservation it held is released, and with ``respawn`` a
new incarnation takes its place, unless the dead one never finished its setup (a replacement that
dies as it starts is one more death, not a loop of them).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from asyncsgd.engines.ray.faults import ActorDeath, first_line


@dataclass
class Handle:
    """A learner actor of this run, and the ``run`` call the driver holds on it."""

    learner: int
    incarnation: int
    actor: Any
    setup: Any = None
    """The actor's ``setup`` call (its result: where it runs)."""
    ref: Any = None
    ended_round: int | None = None
    """Drain round after which all its rows are in (it ended before that drain was sent)."""
    state: dict[str, Any] | None = None
    info: dict[str, Any] | None = None
    alive: bool = True
    change_pulls: int = 0
    """Shard answers that carried only the changed coordinates, as of the end of its last run call."""


class Learners:
    """The learner half of the driver (mixed into it; it uses the driver's ``ray``, ``handles``,
    ``book``, ``joiner``, shard calls and counts)."""

    def _running(self) -> list[Handle]:
        return [h for h in self.handles.values() if h.ref is not None]

    def _spawn(self, i: int, state: dict[str, Any] | None) -> Handle:
        """Create learner ``i``'s actor (its setup call is queued before any other)."""
        inc = self.book.incarnations[i]
        actor = self.learner_cls.options(name=f"{self.prefix}-learner-{i}.{inc}").remote()
        handle = Handle(i, inc, actor)
        handle.setup = actor.setup.remote(self.job_ref, i, inc, self.shards, self.bounds, state, self.factory)
        if i in self.handles:
            self.retired.append(self.handles[i])
        self.handles[i] = handle
        return handle

    def _restart(self, handles: list[Handle]) -> None:
        """A new ``run`` call on learners whose last one ended (their rows are all in)."""
        for handle in handles:
            self.joiner.closed.discard((handle.learner, handle.incarnation))
            handle.ended_round = None
            handle.ref = handle.actor.run.remote()

    def _collect(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a learner's ``run`` to end; handle every one that ended."""
        running = {h.ref: h for h in self._running()}
        if not running:
            time.sleep(timeout)
            return
        ray = self.ray
        ready, _ = ray.wait(list(running), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        for ref in ready:
            handle = running[ref]
            handle.ref = None
            handle.ended_round = self.round + 1
            try:
                result = self._get(ref)
            except ray.exceptions.RayTaskError as err:  # its run raised: its own fault or a shard's
                self._drain(deliver=False)  # raises if a shard is gone
                ray.kill(handle.actor, no_restart=True)
                self._death(handle, first_line(err))
                continue
            except ray.exceptions.RayError as err:
                self._death(handle, first_line(err))
                continue
            handle.state = result["state"]
            handle.change_pulls = result["change_pulls"]
            if result["patch"] is not None:
                self.joiner.patch(handle.learner, handle.incarnation, *result["patch"])

    def _start_failure(self, handle: Handle) -> str | None:
        """None if the learner's actor finished its setup (a replacement may die before), else
        why not: its setup's error, or "" while it had not ended."""
        if handle.info is not None:
            return None
        ready, _ = self.ray.wait([handle.setup], timeout=0)
        if not ready:
            return ""
        try:
            handle.info = self._get(handle.setup)
        except self.ray.exceptions.RayError as err:
            return first_line(err)
        return None

    def _death(self, handle: Handle, cause: str) -> None:
        """One more learner lost. A replacement that died before it started is not replaced again
        (whatever killed it would likely kill the next one too)."""
        handle.alive = False
        failure = self._start_failure(handle)
        started = failure is None
        death = ActorDeath(
            handle.learner,
            handle.incarnation,
            self.now(),
            failure or cause,
            self.server["updates"],
            started=started,
        )
        replace = self.lost(death, started and not self.stopping and not self.budget_reached())
        if self.S > 1:
            death.released_reservation = self._control("release", handle.learner)
        if replace:
            new = self._spawn(handle.learner, None)
            new.ref = new.actor.run.remote()
            death.respawned = True

    def _kill_all(self) -> None:
        ray = self.ray
        for actor in [*(h.actor for h in [*self.retired, *self.handles.values()]), *self.shards]:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor, no_restart=True)

    def _placement(self, handle: Handle) -> dict[str, Any]:
        """Where a learner actor ran (a respawned one reports once its setup finished)."""
        if handle.info is None:
            try:
                handle.info = self._get(handle.setup, 1.0)
            except self.ray.exceptions.RayError:
                handle.info = {"learner": handle.learner, "incarnation": handle.incarnation}
        return {**(handle.info or {}), "alive": handle.alive}
