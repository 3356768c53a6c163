"""``asyncsgd list``: the settings, or what each registry offers.

The parts declare themselves in modules that import torch, which takes seconds to load; so a fresh
``asyncsgd list`` prints the listing generated from the registries into :mod:`asyncsgd.cli.listing`
(``python -m asyncsgd.cli.catalogue --write`` refreshes it; a test fails when it differs from the
registries), and a process that has torch loaded already reads the registries themselves, parts it
registered included.
"""

from __future__ import annotations

import argparse
import json
import sys

KINDS = ("engines", "datasets", "models", "codecs", "rules", "remedies", "algorithms", "delays", "staleness",
         "measures", "figures", "studies")  # fmt: skip
"""What ``asyncsgd list KIND`` offers besides ``settings``, in the order ``asyncsgd list`` prints them."""


def registries() -> dict[str, object]:
    from asyncsgd.algorithms import ALGORITHMS
    from asyncsgd.assembly.engines import ENGINES
    from asyncsgd.codecs import CODECS
    from asyncsgd.data import DATASETS
    from asyncsgd.delays import DELAYS, STALENESS
    from asyncsgd.models import MODELS
    from asyncsgd.report import FIGURES, MEASURES
    from asyncsgd.reproduce import STUDIES
    from asyncsgd.rules import OPTIMIZERS, REMEDIES

    found = (ENGINES, DATASETS, MODELS, CODECS, OPTIMIZERS, REMEDIES, ALGORITHMS, DELAYS, STALENESS, MEASURES,
             FIGURES, STUDIES)  # fmt: skip
    return dict(zip(KINDS, found, strict=True))


def _takers(name: str, taken: dict[str, list[str]]) -> str:
    return ", ".join(taken.get(name, []))


def settings_text() -> str:
    """Every setting known now (the registered parts' included): name, default, help, who takes it."""
    from asyncsgd.config.settings import declared, users

    taken = users()
    return "\n".join(
        f"{s.name:16s} {s.default!s:12s} {s.describe()} [{_takers(s.name, taken)}]"
        for s in declared().values()
    )


def settings_markdown() -> str:
    """The README's settings table, generated from the declarations."""
    from asyncsgd.config.settings import declared, users

    taken = users()
    rows = ["| setting | default | meaning | taken by |", "|---|---|---|---|"]
    for s in declared().values():
        value = s.default
        shown = (
            f'"{value}"'
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool)
            else value
        )
        meaning = s.describe().replace("|", r"\|")  # a bar in a cell is escaped, not a new column
        rows.append(f"| `{s.name}` | `{shown}` | {meaning} | {_takers(s.name, taken)} |")
    return "\n".join(rows)


def kind_text(kind: str, registry: object) -> str:
    entries = list(registry)  # type: ignore[call-overload]
    width = max([14, *(len(e.name) for e in entries)])
    return "\n".join([f"{kind}:", *(f"  {entry.name:{width}s} {entry.summary}" for entry in entries)])


def live() -> dict[str, str]:
    """What ``asyncsgd list`` prints, read from the registries now."""
    texts = {kind: kind_text(kind, registry) for kind, registry in registries().items()}
    return {**texts, "settings": settings_text(), "settings --markdown": settings_markdown()}


def listing() -> dict[str, str]:
    """The generated listing in a fresh process; the registries once torch is loaded anyway."""
    if "torch" in sys.modules:
        return live()
    from asyncsgd.cli.listing import LISTING

    return dict(json.loads(LISTING))


def list_(args: argparse.Namespace) -> int:
    texts = listing()
    if args.kind == "settings":
        print(texts["settings --markdown" if args.markdown else "settings"])
        return 0
    for kind in [args.kind] if args.kind else KINDS:
        print(texts[kind])
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list settings, or what a registry offers")
    p.add_argument("kind", nargs="?", choices=[*KINDS, "settings"])
    p.add_argument("--markdown", action="store_true", help="settings as a Markdown table")
    p.set_defaults(func=list_)
