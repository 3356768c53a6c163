"""``asyncsgd list``: the settings, or what each registry offers."""

from __future__ import annotations

import argparse

from asyncsgd.config.settings import declared, users
from asyncsgd.vocabulary.settings import Setting


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

    return {
        "engines": ENGINES,
        "datasets": DATASETS,
        "models": MODELS,
        "codecs": CODECS,
        "rules": OPTIMIZERS,
        "remedies": REMEDIES,
        "algorithms": ALGORITHMS,
        "delays": DELAYS,
        "staleness": STALENESS,
        "measures": MEASURES,
        "figures": FIGURES,
        "studies": STUDIES,
    }


def _takers(setting: Setting, taken: dict[str, list[str]]) -> str:
    return ", ".join(taken.get(setting.name, []))


def settings_text() -> str:
    """Every setting known now (the registered parts' included): name, default, help, who takes it."""
    taken = users()
    return "\n".join(
        f"{s.name:16s} {s.default!s:12s} {s.describe()} [{_takers(s, taken)}]" for s in declared().values()
    )


def settings_markdown() -> str:
    """The README's settings table, generated from the declarations."""
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
        rows.append(f"| `{s.name}` | `{shown}` | {meaning} | {_takers(s, taken)} |")
    return "\n".join(rows)


def list_(args: argparse.Namespace) -> int:
    if args.kind == "settings":
        print(settings_markdown() if args.markdown else settings_text())
        return 0
    found = registries()
    for kind in [args.kind] if args.kind else list(found):
        print(f"{kind}:")
        entries = list(found[kind])  # type: ignore[call-overload]
        width = max([14, *(len(e.name) for e in entries)])
        for entry in entries:
            print(f"  {entry.name:{width}s} {entry.summary}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list settings, or what a registry offers")
    p.add_argument("kind", nargs="?", choices=[*registries(), "settings"])
    p.add_argument("--markdown", action="store_true", help="settings as a Markdown table")
    p.set_defaults(func=list_)
