"""docs/catalogue.md, generated from the registries: every codec, remedy, server rule and algorithm
with its rule (from its docstring), reference, settings and declared capabilities.

    python -m asyncsgd.cli.catalogue            # print the generated part
    python -m asyncsgd.cli.catalogue --write    # refresh it in docs/catalogue.md

The page keeps its hand-written introduction; everything between ``<!-- catalogue -->`` and
``<!-- /catalogue -->`` is generated, and a test fails when it differs from the registries.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from asyncsgd.algorithms import ALGORITHMS, SSPGate
from asyncsgd.algorithms.base import LOCAL_STEPS
from asyncsgd.algorithms.easgd import EXCHANGE_PERIOD
from asyncsgd.algorithms.ssp import SSP_BOUND
from asyncsgd.cli.list_cmd import live, settings_markdown
from asyncsgd.codecs import CODECS, make_codec
from asyncsgd.config import RunConfig
from asyncsgd.config.files import default_document
from asyncsgd.config.settings import declared
from asyncsgd.registry import Registry
from asyncsgd.rules import OPTIMIZERS, PUSH_KINDS, REMEDIES
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.settings import Setting, names

PAGE = Path(__file__).resolve().parents[3] / "docs" / "catalogue.md"
BLOCK = re.compile(r"(<!-- catalogue -->\n).*?(<!-- /catalogue -->)", re.S)
README = PAGE.parents[1] / "README.md"
SETTINGS = re.compile(r"(<!-- settings -->\n).*?(\n<!-- /settings -->)", re.S)
EXPERIMENT = re.compile(r"(<!-- default-experiment -->\n).*?(<!-- /default-experiment -->)", re.S)
D, P = 10**6, 8  # the reference size for the numbers in the tables
ROLE = re.compile(r":(?:class|func|attr|mod|data|meth):`~?(?:[\w.]+\.)?(\w+)`")


def markdown_doc(obj: Any) -> str:
    """A docstring as Markdown: ``::`` blocks become fenced code, roles and ````x```` become `x`."""
    lines = inspect.cleandoc(obj.__doc__ or "").split("\n")
    out: list[str] = []
    in_code = False
    for line in lines:
        if in_code and line.strip() and not line.startswith("    "):
            while out[-1] == "":
                out.pop()
            out += ["```", ""]
            in_code = False
        if in_code:
            out.append(line[4:])
            continue
        text = ROLE.sub(r"`\1`", line).replace("``", "`")
        if text.rstrip().endswith("::"):
            out.append(text.rstrip()[:-1])
            out.append("")
            out.append("```text")
            in_code = True
            continue
        out.append(text)
    if in_code:
        out.append("```")
    body = "\n".join(out).strip()
    return re.sub(r"```text\n\n", "```text\n", body)


def setting_lines(settings: tuple[Setting | str, ...]) -> str:
    if not settings:
        return "*Settings:* none."
    known = declared()
    items = [f"`{k}` = `{toml_value(known[k].default)}` ({known[k].describe()})" for k in names(settings)]
    return "*Settings:* " + "; ".join(items) + "."


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "—"


def codec_table() -> str:
    layout = FlatLayout.single(D)
    defaults = RunConfig().to_dict()
    rows = [
        "| codec | bits per coordinate | unbiased | contraction δ | seed on the wire | fixed size | sparse "
        "| error feedback | settings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in CODECS:
        cls = entry.factory
        codec = make_codec(entry.name, layout, **{k: defaults[k] for k in names(cls.settings)})
        caps = codec.caps
        size = codec.estimate_nbytes() if caps.fixed_size else None
        bits = f"{8 * size / D:.4g}" if size is not None else "varies"
        delta = f"{caps.contraction:.3g}" if caps.contraction is not None else "—"
        feedback = "always" if caps.feedback else "optional"
        settings = ", ".join(f"`{k}`" for k in names(cls.settings)) or "—"
        rows.append(
            f"| [`{entry.name}`](#codec-{entry.name}) | {bits} | {_yes(caps.unbiased)} | {delta} "
            f"| {_yes(caps.needs_seed)} | {_yes(caps.fixed_size)} | {_yes(caps.sparse)} | {feedback} "
            f"| {settings} |"
        )
    return "\n".join(rows)


def _pushes(kinds: frozenset[str]) -> str:
    return "any" if kinds == PUSH_KINDS else ", ".join(sorted(kinds))


def rule_table(registry: Registry, kind: str) -> str:
    import torch

    head = f"| {kind} | pushes it applies to | server memory (p = {P}, d = 10⁶) | settings |"
    rows = [head, "|---|---|---|---|"]
    defaults = RunConfig().to_dict()
    params = torch.zeros(D)
    for entry in registry:
        cls = entry.factory
        obj = cls(**{k: defaults[k] for k in names(cls.settings)})
        state = obj.init(params, P) if kind == "remedy" else obj.init(params)
        memory = obj.memory_bytes(state)
        shown = f"{memory / 2**20:.3g} MiB" if memory else "0"
        settings = ", ".join(f"`{k}`" for k in names(cls.settings)) or "—"
        link = f"[`{entry.name}`](#{kind}-{entry.name})"
        rows.append(f"| {link} | {_pushes(cls.pushes)} | {shown} | {settings} |")
    return "\n".join(rows)


def algorithm_table() -> str:
    rows = ["| algorithm | pushes | protocols | mini-batches per push | settings |", "|---|---|---|---|---|"]
    for entry in ALGORITHMS:
        cls = entry.factory
        steps = next((f"`{s.name}`" for s in cls.settings if s in (LOCAL_STEPS, EXCHANGE_PERIOD)), "1")
        settings = ", ".join(f"`{k}`" for k in names(cls.settings)) or "—"
        rows.append(
            f"| [`{entry.name}`](#algorithm-{entry.name}) | {cls.pushes} | {', '.join(cls.protocols)} "
            f"| {steps} | {settings} |"
        )
    return "\n".join(rows)


def compatibility_table() -> str:
    """Which remedy applies to which algorithm's pushes (the assembly refuses the rest)."""
    algos = list(ALGORITHMS)
    rows = ["| remedy | " + " | ".join(f"`{a.name}`" for a in algos) + " |", "|---" * (len(algos) + 1) + "|"]
    for entry in REMEDIES:
        marks = ["yes" if a.factory.pushes in entry.factory.pushes else "refused" for a in algos]
        rows.append(f"| `{entry.name}` | " + " | ".join(marks) + " |")
    return "\n".join(rows)


def sections(registry: Registry, kind: str) -> str:
    parts = []
    for entry in registry:
        cls = entry.factory
        parts.append(
            f'<a id="{kind}-{entry.name}"></a>\n### `{entry.name}`: {entry.summary}\n\n'
            f"{markdown_doc(cls)}\n\n*Reference:* {cls.reference}.\n\n{setting_lines(cls.settings)}"
        )
    return "\n\n".join(parts)


def generated() -> str:
    """The generated part of the page."""
    return "\n\n".join(
        [
            "## Codecs",
            "Numbers for d = 10⁶ parameters in one group at the default settings; δ is the "
            "contraction the codec declares for every vector (`E‖x − C(x)‖² ≤ (1 − δ)‖x‖²`).",
            codec_table(),
            sections(CODECS, "codec"),
            "## Remedies",
            "Remedies reshape or drop a decoded push before the server's optimizer; several apply in "
            'the order written (`remedy = "dc_asgd+staleness_lr"`).',
            rule_table(REMEDIES, "remedy"),
            "Which remedies apply to which algorithm (a refused pair stops the run with a one-line "
            "error naming `remedy`):",
            compatibility_table(),
            sections(REMEDIES, "remedy"),
            "## Server optimizers (`rule`)",
            rule_table(OPTIMIZERS, "optimizer"),
            sections(OPTIMIZERS, "optimizer"),
            "## Bounded staleness (`ssp_bound`)",
            markdown_doc(SSPGate),
            setting_lines((SSP_BOUND,)),
            "## Algorithms",
            algorithm_table(),
            sections(ALGORITHMS, "algorithm"),
        ]
    )


LISTING = Path(__file__).with_name("listing.py")


def listing_module() -> str:
    """The source of :mod:`asyncsgd.cli.listing`: what ``asyncsgd list`` prints, as JSON."""
    text = json.dumps(live(), ensure_ascii=False, indent=1)
    assert '"""' not in text  # fits a raw triple-quoted string
    return (
        '"""What ``asyncsgd list`` prints for the package\'s own parts, generated from the registries by\n'
        "``python -m asyncsgd.cli.catalogue --write`` (do not edit; a test fails when it is out of date)."
        '"""\n\n'
        f'LISTING = r"""{text}"""  # noqa: E501\n'
    )


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + generated() + "\n" + m.group(2), text)


def readme_settings() -> str:
    """The settings table, where a default differs from the default experiment's value saying both: a
    reader of ``asyncsgd run`` (which trains LeNet) must not take the setting's default (``mlp``) for
    what it ran."""
    known = declared()
    chosen = {k: v for k, v in default_document().items() if k in known and v != known[k].default}
    rows = settings_markdown().split("\n")
    for i, row in enumerate(rows):
        name = row.split("`")[1] if row.startswith("| `") else ""
        if name in chosen:
            cells = row.split(" | ")
            cells[1] += f" (default experiment: `{toml_value(chosen[name])}`)"
            rows[i] = " | ".join(cells)
    return "\n".join(rows)


def default_experiment() -> str:
    """The embedded default experiment, the file itself, as a fenced TOML block."""
    text = resources.files("asyncsgd.config").joinpath("default.toml").read_text()
    return f"```toml\n{text.rstrip()}\n```\n"


def render_readme(text: str) -> str:
    """The README with its generated parts: the default experiment and the settings table."""
    text = EXPERIMENT.sub(lambda m: m.group(1) + default_experiment() + m.group(2), text)
    return SETTINGS.sub(lambda m: m.group(1) + readme_settings() + m.group(2), text)


if __name__ == "__main__":
    if (
        "--write" in sys.argv
    ):  # the generated pages: this catalogue, the README's generated parts, the listing
        PAGE.write_text(render(PAGE.read_text()))
        README.write_text(render_readme(README.read_text()))
        LISTING.write_text(listing_module())
    else:
        print(generated())
