"""Name → factory tables for every pluggable part (codecs, rules, delays, datasets, models, engines).

A registry is filled once, at import, by ``@REGISTRY.register("name")`` decorators beside each
implementation, or names parts of a higher layer by where they live (``register_lazy``) and
imports one when it is first asked for; it holds no run state. Unknown names fail with the list
of known ones.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    """Raised for a name no registry entry has; ``str()`` is a one-line message."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: T
    summary: str
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._lazy: dict[str, tuple[str, str, dict[str, Any]]] = {}

    def register(self, name: str, summary: str = "", **meta: Any) -> Callable[[T], T]:
        def deco(factory: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            doc = summary or (getattr(factory, "__doc__", "") or "").strip().split("\n")[0]
            self._entries[name] = Entry(name, factory, doc, dict(meta))
            return factory

        return deco

    def register_lazy(self, name: str, location: str, summary: str, **meta: Any) -> None:
        """Name the factory at ``"package.module:attribute"``, imported on first use."""
        if name in self:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._lazy[name] = (location, summary, dict(meta))

    def entry(self, name: str) -> Entry[T]:
        if name in self._lazy and name not in self._entries:
            location, summary, meta = self._lazy[name]
            module, _, attribute = location.partition(":")
            factory = getattr(importlib.import_module(module), attribute)
            self._entries[name] = Entry(name, factory, summary, meta)
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise UnknownName(f"unknown {self.kind} {name!r} (known: {known})") from None

    def meta(self, name: str) -> dict[str, Any]:
        """The ``meta`` a part was registered with, without importing a lazy one."""
        if name in self._lazy:
            return self._lazy[name][2]
        return self.entry(name).meta

    def get(self, name: str) -> T:
        return self.entry(name).factory

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self.entry(n) for n in self.names())


def import_modules(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (its ``__path__``), so that each fills its registry:
    a new part is one new file, with no list of modules to extend."""
    for module in pkgutil.iter_modules(path):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
