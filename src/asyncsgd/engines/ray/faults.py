"""Lost actors: a learner's death as the summary records it, and what a remote error means.

Ray reports an actor that is gone (``ray.kill``, its process killed, its node lost) as an
``ActorDiedError`` on every call to it, including the long ``run`` call the driver holds on each
learner, so a death is seen as soon as Ray notices it (milliseconds for a killed process on the
same node; Ray's health checks for a lost node). A learner whose ``run`` *raised* is still alive;
the error may be its own or a shard's (a learner's call to a dead shard fails), which the driver
tells apart by calling the shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ActorDeath:
    learner: int
    incarnation: int
    time: float
    cause: str
    updates: int = 0
    started: bool = True
    """False: it died before its setup finished (a replacement that never ran)."""
    respawned: bool = False
    released_reservation: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "learner": self.learner,
            "incarnation": self.incarnation,
            "time": self.time,
            "cause": self.cause,
            "exitcode": None,
            "signal": None,
            "updates_when_detected": self.updates,
            "started": self.started,
            "respawned": self.respawned,
            "released_reservation": self.released_reservation,
        }


def first_line(err: BaseException) -> str:
    """The meaningful line of a Ray error: why the actor died, or the remote exception."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException) and cause is not err:
        err = cause
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("The actor is dead because"):
            return line
    return f"{type(err).__name__}: {lines[-1] if lines else ''}".strip()
