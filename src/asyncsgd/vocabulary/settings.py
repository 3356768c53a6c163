"""What a setting is: a name, a type, a default, the values it accepts and a line of help.

Every part that takes a run setting (a codec's ``ratio``, a remedy's ``dc_lambda``, a delay model's
``delay_sigma``) declares it once, beside its class, as a :class:`Setting` in its ``settings``; the
run config, its validation, ``asyncsgd list settings`` and the README's table are generated from
those declarations. A part may also name, as a plain string, a run-level setting declared by the
config (``"lr"``, ``"learners"``).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asyncsgd.errors import ConfigError

MAX_LAYERS = 64
"""Most entries of a list setting (``hidden``)."""
MAX_COUNT = 10**12
"""Largest update budget, checkpoint or evaluation interval: more than any machine runs."""
MAX_RATE = 1e6
MAX_LR = 1e38
"""Rates go into float32 tensors (largest 3.4e38); a huge rate is a legitimate way to make a run diverge."""


def show(v: float) -> str:
    """A bound as people write it: 4096, 2^24, 2^63-1, 1e9, 1e38, 0.5, inf."""
    if isinstance(v, float) and abs(v) >= 1e16:  # beyond float's exact integers: not digit by digit
        return f"{v:g}".replace("e+", "e")
    if math.isinf(v) or not float(v).is_integer():
        return f"{v:g}"
    n = abs(int(v))
    sign = "-" if v < 0 else ""
    for k in range(15, 64):
        if n in (2**k, 2**k - 1):
            return f"{sign}2^{k}{'' if n == 2**k else '-1'}"
    text = str(n)
    if n >= 10**5 and text.strip("0") == "1":
        return f"{sign}1e{len(text) - 1}"
    return f"{sign}{text}"


def brief(value: Any) -> str:
    """``repr(value)``, with integers of more than 20 digits (1e308 read as an integer) in e-notation."""
    if isinstance(value, list):
        return "[" + ", ".join(brief(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 20:
        return f"{value:.3e}"
    return repr(value)


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting accepts: ``low`` to ``high``, either end open; an infinite
    end accepts infinity (where it means "no limit"); NaN never."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{show(self.low)}, {show(self.high)}{right}"


@dataclass(frozen=True)
class Setting:
    """One run setting. Two parts that take the same setting declare it identically (a test
    compares every declaration of a name), best by sharing one object."""

    name: str
    default: Any
    help: str
    kind: Any = None
    """``int``, ``float``, ``bool``, ``str``, ``list[int]`` or a union; ``None``: the default's type."""
    bounds: Bounds | None = None
    """The range of a number (or of every entry of a list of numbers)."""
    choices: tuple[str, ...] = ()
    """The names a string setting (or each entry of a list of strings) accepts (empty: any string,
    or a registry checks it)."""

    @property
    def type(self) -> Any:
        return type(self.default) if self.kind is None else self.kind

    def describe(self) -> str:
        """The help text, with the range or the choices it accepts."""
        if self.bounds is not None:
            return f"{self.help}; range {self.bounds}"
        return f"{self.help}; one of {', '.join(self.choices)}" if self.choices else self.help

    def problem(self, value: Any) -> str | None:
        """What is wrong with an already typed ``value`` (one line naming no key), or ``None``."""
        if self.choices and isinstance(value, str | list):
            for item in value if isinstance(value, list) else [value]:
                if item not in self.choices:
                    return f"unknown {self.name} {item!r} (known: {', '.join(self.choices)})"
        if self.bounds is None or isinstance(value, str):
            return None
        if isinstance(value, list):
            if len(value) > MAX_LAYERS:
                return f"at most {MAX_LAYERS} entries, got {brief(value)}"
            if any(v not in self.bounds for v in value):
                return f"entries must be in {self.bounds}, got {brief(value)}"
            return None
        return None if value in self.bounds else f"must be in {self.bounds}, got {brief(value)}"


def setting(
    name: str, default: Any, help: str, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False, kind: Any = None, choices: Iterable[str] = (),
) -> Setting:  # fmt: skip
    """A :class:`Setting`, with its range given as ``low``, ``high`` and which ends are open."""
    bounds = Bounds(low, high, low_open, high_open) if low is not None and high is not None else None
    return Setting(name, default, help, kind, bounds, tuple(choices))


def names(settings: Iterable[Setting | str]) -> tuple[str, ...]:
    """The names of a part's ``settings`` (declarations, or names of run-level settings)."""
    return tuple(s if isinstance(s, str) else s.name for s in settings)


def coerce(key: str, value: Any, kind: Any) -> Any:
    """``value`` as a ``kind``, or a ConfigError naming ``key``."""
    origin = typing.get_origin(kind)
    if origin in (list, tuple):
        (item,) = typing.get_args(kind)
        if not isinstance(value, list | tuple):
            value = [value]
        return [coerce(key, v, item) for v in value]
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            try:
                return coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(key, f"unexpected value {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(key, f"expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"expected a string, got {value!r}")
    raise TypeError(f"no coercion for {kind}")
