"""Shard 0's bookkeeping of the budget, the apply order and the run's stop and pause flags.

With one shard a push is admitted when it arrives, if the budget is not yet spent (exactly as the
``local`` engine's server checks it under its lock), so a run makes exactly the budgeted updates.

With S shards a learner sends its push to all of them at once, and no shard may apply a push that
another refuses: that would leave one update partly applied. So the budget is *reserved* a cycle
ahead. Shard 0 answers each learner's call with a reservation for its next push while the budget,
counting every reservation already handed out, is not spent; a reserved push is then admitted by
every shard whatever happens meanwhile. A learner without a reservation (the last few updates of
a run, or after a stop) sends its push to shard 0 alone first, and to the other shards only once
shard 0 admitted it. Update numbers are taken at shard 0, so the budget is exact with any S. A
reservation of a learner that dies is released by the driver; pauses and stops hand out none, so a
checkpoint never holds one.

Checkpoints are due on the server's count, not on what the driver has read so far: once the
updates reach the next multiple of ``checkpoint_every`` below the budget, shard 0 pauses the run
itself (every learner returns after its push in flight, so the checkpoint lands within p − 1
updates of the multiple) and the driver, which sees the flag in its next drain, saves and resumes.
However far the driver lags, no multiple is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncsgd.assembly.job import Budget
from asyncsgd.engines.ray.protocol import END, OK, PUSH, REFUSED


@dataclass
class Admission:
    shards: int
    max_updates: int | None
    max_samples: int | None
    updates: int = 0
    """Applied updates (one shard) or update numbers handed out (several shards)."""
    samples: int = 0
    seq: int = 0
    """Pushes handled so far (the last one's position in the apply order)."""
    reservations: dict[int, int] = field(default_factory=dict)
    """Learner → the samples of the push its reservation holds."""
    checkpoint_every: int = 0
    """0: no checkpoints."""
    stopped: bool = False
    pausing: bool = False
    checkpoint: bool = False
    """Paused for a checkpoint, at the multiple of ``checkpoint_every`` the updates just reached."""
    checkpoint_at: int = field(init=False, default=0)
    budget: Budget = field(init=False)

    def __post_init__(self) -> None:
        self.budget = Budget(self.max_updates, self.max_samples)
        self._next_checkpoint()

    def _next_checkpoint(self) -> None:
        every = self.checkpoint_every
        self.checkpoint_at = (self.updates // every + 1) * every if every > 0 else 0

    def reached(self, updates: int = 0, samples: int = 0) -> bool:
        """The budget is spent by ``updates`` and ``samples`` more than admitted so far."""
        return self.budget.reached(self.updates + updates, self.samples + samples)

    def _room(self) -> bool:
        return not self.reached(len(self.reservations), sum(self.reservations.values()))

    def _grant(self, learner: int, samples: int) -> bool:
        if self.shards == 1 or self.stopped or self.pausing:
            return False
        if learner in self.reservations:
            return True
        if not self._room():
            return False
        self.reservations[learner] = samples
        return True

    # -- calls ---------------------------------------------------------------------------------
    def pull(self, learner: int, samples: int) -> tuple[int, bool]:
        """A pull alone: (status, reservation for the next push)."""
        if self.stopped or self.reached():
            return REFUSED, False
        return OK, self._grant(learner, samples)

    def admit(self, learner: int, kind: int, samples: int, reserved: bool) -> int | None:
        """Admit a push: its update number with several shards (0 for a malformed push, and
        always with one shard, where the apply decides), or None when it is refused."""
        held = self.reservations.pop(learner, None) if reserved else None
        if held is None and (self.stopped or not self._room()):
            return None
        self.samples += samples
        self.seq += 1
        if self.shards > 1 and kind == PUSH:
            self.updates += 1
            return self.updates
        return 0

    def applied(self) -> None:
        """One shard: the admitted push changed the parameters."""
        self.updates += 1

    def after(self, learner: int, samples: int) -> tuple[int, bool]:
        """Once a push is handled: (status, reservation for the learner's next push)."""
        if self.checkpoint_at and self.updates >= self.checkpoint_at and not self.reached():
            self.pausing = self.checkpoint = True
        if self.stopped or self.pausing or self.reached():
            return END, False
        return OK, self._grant(learner, samples)

    def resume(self) -> None:
        """Go on after a pause; the next checkpoint is due at the next multiple."""
        self.pausing = self.checkpoint = False
        self._next_checkpoint()

    def status(self) -> dict[str, Any]:
        """What the driver judges the run on: the server's own counts, and a checkpoint due."""
        return {"updates": self.updates, "samples": self.samples, "checkpoint": self.checkpoint}

    def release(self, learner: int) -> bool:
        """Drop a gone learner's reservation; whether it held one."""
        return self.reservations.pop(learner, None) is not None

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "samples": self.samples, "seq": self.seq,
                "reservations": dict(self.reservations)}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.samples = int(state["samples"])
        self.seq = int(state["seq"])
        self.reservations = {int(k): int(v) for k, v in state["reservations"].items()}
        self._next_checkpoint()
