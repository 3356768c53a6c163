"""Checkpoints of a running method, written atomically, and what ``--resume`` continues from.

A checkpoint (``<method>/checkpoint.pt``) holds everything the run needs to go on as if it had
not stopped: the engine's state (server parameters, per-shard versions and rule state, counters,
every learner's error-feedback memory, random generators and data-stream position) and the
recorder's totals (staleness histogram, bytes, time breakdown, evaluations, and how many trace
and metrics rows were written, so the logs are cut back to exactly that point). It is written to
a temporary file and renamed over the previous one, so a crash never leaves a torn checkpoint.

A checkpoint may come from anyone (a run directory is easy to share), so it holds *plain* values
only: torch tensors, ``int``, ``float``, ``bool``, ``str``, ``None``, and lists, tuples and dicts
(keys ``str`` or ``int``) of them. It is read with ``torch.load(weights_only=True)``, which builds
nothing else, and checked again after loading; a value of any other type is an engine bug, caught
when the checkpoint is saved. It also says whose it is (method, experiment, resolved settings,
parameter, learner and shard counts), so ``--resume`` refuses another run's checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from asyncsgd.config.schema import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.metrics.recorder import Recorder

FILE = "checkpoint.pt"
FORMAT = 2
SCALARS = (int, float, bool, str, type(None))


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError naming the first value under ``obj`` that is not plain (see the module).

    Iterative, and each container is checked once: a crafted file may nest deeply, share one list
    many times over (exponentially many paths) or hold a list that contains itself."""
    stack: list[tuple[Any, str, bool]] = [(obj, where, False)]
    done: set[int] = set()
    open_: set[int] = set()
    while stack:
        value, at, leaving = stack.pop()
        if leaving:
            open_.discard(id(value))
            done.add(id(value))
            continue
        kind = type(value)
        if kind in SCALARS:
            continue
        if kind is torch.Tensor:
            if value.layout != torch.strided:
                raise TypeError(f"{at} is a {value.layout} tensor; only dense tensors are plain")
            continue
        if kind not in (dict, list, tuple):
            raise TypeError(
                f"{at} is a {kind.__module__}.{kind.__qualname__}; a checkpoint holds tensors, numbers, "
                "strings, None and lists/tuples/dicts of them"
            )
        if id(value) in done:
            continue
        if id(value) in open_:
            raise TypeError(f"{at} contains itself")
        open_.add(id(value))
        stack.append((value, at, True))
        if kind is dict:
            for key, item in value.items():
                if type(key) not in (str, int):
                    raise TypeError(f"{at} has a key of type {type(key).__name__}; keys are str or int")
                stack.append((item, f"{at}.{key}", False))
        else:
            stack.extend((item, f"{at}[{i}]", False) for i, item in enumerate(value))


@dataclass(frozen=True)
class Identity:
    """Whose a checkpoint is: a resumed method must match every field."""

    method: str
    experiment: str
    settings: str
    """The method's resolved settings, :meth:`RunConfig.canonical` (as its config.toml gives them)."""
    parameters: int
    learners: int
    shards: int

    @classmethod
    def of(cls, job: Any, experiment: str = "", config: RunConfig | None = None) -> Identity:
        """``job``'s identity; ``config`` (default ``job.config``) is the method's settings as read
        from the experiment, before anything the job resolves (a predicted ``lr``)."""
        cfg = job.config if config is None else config
        size = job.layout().size
        return cls(job.name, experiment, cfg.canonical(), size, job.config.learners, job.config.shards)


KEYS: dict[str, type] = {
    "format": int, "method": str, "experiment": str, "settings": str, "parameters": int, "learners": int,
    "shards": int, "updates": int, "engine": dict, "recorder": dict,
}  # fmt: skip
"""The top level of a checkpoint and its types; ``engine`` is the engine's own state."""


class Checkpoints:
    def __init__(self, method_dir: Path, every: int, identity: Identity, saved_at: int = 0) -> None:
        self.path = method_dir / FILE
        self.every = every
        self.identity = identity
        self.next = (saved_at // every + 1) * every
        self.saved = 0

    def due(self, updates: int) -> bool:
        return updates >= self.next

    def save(self, engine_state: dict[str, Any], recorder: Any) -> None:
        updates = int(engine_state.get("updates", 0))
        state = {
            "format": FORMAT,
            **asdict(self.identity),
            "updates": updates,
            "engine": engine_state,
            "recorder": recorder.state_dict(),
        }
        check_plain(state)  # an engine that hands over anything else is wrong: fail now, loudly
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self.next = (updates // self.every + 1) * self.every
        self.saved += 1


def load_checkpoint(method_dir: Path) -> dict[str, Any] | None:
    """The checkpoint in ``method_dir`` (None without one); anything else is a ConfigError."""
    path = method_dir / FILE
    if not path.is_file():
        return None
    return read_checkpoint(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Read ``path`` as data (nothing in it is run) and refuse, in one line naming it, anything that
    is not a checkpoint of this asyncsgd: a crafted pickle, a corrupt, truncated or empty file,
    another format, a missing or mistyped key."""
    where = str(path)
    try:
        empty = path.stat().st_size == 0
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols: one line only
            warnings.simplefilter("ignore")
            state = None if empty else torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # whatever a foreign file makes torch raise, it is not a checkpoint
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found:
            raise ConfigError(
                where, f"refused: it asks for {found.group(1)}, which no checkpoint does"
            ) from None
        why = type(err).__name__
        raise ConfigError(
            where, f"not a readable checkpoint (corrupt, truncated or not one: {why})"
        ) from None
    if empty:
        raise ConfigError(where, "is empty (not a checkpoint)")
    try:
        check_plain(state)
    except TypeError as err:
        raise ConfigError(where, f"refused: {err}") from None
    if not isinstance(state, dict) or type(state.get("format")) is not int:
        raise ConfigError(where, "is not an asyncsgd checkpoint")
    if state["format"] != FORMAT:
        raise ConfigError(where, f"was written by another asyncsgd (format {state['format']}, not {FORMAT})")
    for key, kind in KEYS.items():
        if type(state.get(key)) is not kind:
            raise ConfigError(where, f"is not a complete checkpoint ({key!r} missing or not {kind.__name__})")
    problem = Recorder.state_problem(state["recorder"])
    if problem:
        raise ConfigError(where, f"is not a complete checkpoint (recorder {problem!r} missing or malformed)")
    return state


def check_identity(path: Path, state: dict[str, Any], identity: Identity) -> None:
    """Refuse a checkpoint that is not this method's: another model, learner or shard count,
    method or experiment, or settings that changed since (config.toml edited)."""
    mine = asdict(identity)
    for key, what in (("parameters", "parameters"), ("learners", "learners"), ("shards", "shards")):
        if state[key] != mine[key]:
            raise ConfigError(
                str(path), f"holds {state[key]} {what}, method {identity.method!r} has {mine[key]}: "
                "it was written by another run",
            )  # fmt: skip
    if (state["method"], state["experiment"]) != (identity.method, identity.experiment):
        raise ConfigError(
            str(path), f"was written by another run (method {state['method']!r} of experiment "
            f"{state['experiment']!r}, not {identity.method!r} of {identity.experiment!r})",
        )  # fmt: skip
    if state["settings"] != identity.settings:
        changed = _first_difference(state["settings"], identity.settings)
        raise ConfigError(
            str(path), f"was written with other settings ({changed}): config.toml was edited since, "
            "or the checkpoint comes from another run",
        )  # fmt: skip


def _first_difference(saved: str, now: str) -> str:
    try:
        old, new = json.loads(saved), json.loads(now)
    except ValueError:
        return "unreadable settings"
    if not isinstance(old, dict):
        return "unreadable settings"
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key}: {old.get(key)!r} then, {new.get(key)!r} now"
    return "the same values, written differently"
