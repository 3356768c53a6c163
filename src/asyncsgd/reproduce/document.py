"""A report as a list of blocks, written once and rendered twice: Markdown and standalone HTML.

Inline text uses a small subset of Markdown that both renderings share: ```code```, ``**bold**``,
``*italic*`` and ``[text](target)`` links. Figures are PNG files beside the report; the HTML
refers to them by file name, so the folder can be moved or served as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncsgd.errors import ConfigError
from asyncsgd.plots import compact_png
from asyncsgd.report.markdown import markdown_table

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)\s]+)\)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
SAFE_SCHEMES = ("http:", "https:", "mailto:")
"""Links are relative, or to these schemes; any other target is shown as its text."""


def inline_html(text: str) -> str:
    """The inline Markdown subset as HTML, everything else escaped."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        code, bold, italic, label, target = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{inline_html(bold)}</strong>")
        elif italic is not None:
            out.append(f"<em>{inline_html(italic)}</em>")
        elif _SCHEME.match(target) and not target.lower().startswith(SAFE_SCHEMES):
            out.append(inline_html(label))  # text from a database may carry javascript: and the like
        else:
            out.append(f'<a href="{html.escape(target, quote=True)}">{inline_html(label)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    file: str
    """File name of the PNG, relative to the report."""
    caption: str


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Bullets | Table | Image | Code


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    # -- building ------------------------------------------------------------------------------
    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Heading(level, text))

    def paragraph(self, *sentences: str) -> None:
        text = " ".join(s for s in sentences if s)
        if text:
            self.blocks.append(Paragraph(text))

    def bullets(self, items: Sequence[str]) -> None:
        if items:
            self.blocks.append(Bullets(tuple(items)))

    def table(self, header: Sequence[Any], rows: Sequence[Sequence[Any]], caption: str = "") -> None:
        self.blocks.append(
            Table(tuple(str(h) for h in header), tuple(tuple(str(c) for c in r) for r in rows), caption)
        )

    def image(self, path: Path, caption: str) -> None:
        self.blocks.append(Image(path.name, caption))

    def code(self, text: str) -> None:
        self.blocks.append(Code(text))

    @property
    def images(self) -> list[str]:
        return [b.file for b in self.blocks if isinstance(b, Image)]

    # -- rendering -----------------------------------------------------------------------------
    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if isinstance(b, Heading):
                out += [f"{'#' * b.level} {b.text}", ""]
            elif isinstance(b, Paragraph):
                out += [b.text, ""]
            elif isinstance(b, Bullets):
                out += [*(f"* {item}" for item in b.items), ""]
            elif isinstance(b, Table):
                if b.caption:
                    out += [b.caption, ""]
                out += [markdown_table(b.header, b.rows), ""]
            elif isinstance(b, Image):
                out += [f"![{b.caption}]({b.file})", "", f"*{b.caption}*", ""]
            else:
                out += ["```", b.text.rstrip("\n"), "```", ""]
        return "\n".join(out)

    def html(self) -> str:
        body = [f"<h1>{inline_html(self.title)}</h1>"]
        for b in self.blocks:
            if isinstance(b, Heading):
                level = min(max(b.level, 1), 6)
                body.append(f"<h{level}>{inline_html(b.text)}</h{level}>")
            elif isinstance(b, Paragraph):
                body.append(f"<p>{inline_html(b.text)}</p>")
            elif isinstance(b, Bullets):
                body.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                caption = f"<caption>{inline_html(b.caption)}</caption>" if b.caption else ""
                head = "".join(f"<th>{inline_html(h)}</th>" for h in b.header)
                rows = "".join(
                    "<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in row) + "</tr>" for row in b.rows
                )
                body.append(f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif isinstance(b, Image):
                src = html.escape(b.file, quote=True)
                alt = html.escape(b.caption, quote=True)
                body.append(
                    f'<figure><img src="{src}" alt="{alt}"><figcaption>{inline_html(b.caption)}'
                    "</figcaption></figure>"
                )
            else:
                body.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{html.escape(self.title)}</title>",
                f"<style>{_STYLE}</style></head><body>",
                *body,
                "</body></html>",
                "",
            ]
        )

    def write(self, out_dir: Path, stem: str = "report") -> tuple[Path, Path]:
        """Write ``stem.md`` and ``stem.html`` into ``out_dir`` and compact the PNGs they show
        (ConfigError naming a figure that is missing); returns both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in self.images:
            if not (out_dir / name).is_file():
                raise ConfigError(str(out_dir / name), "the report shows a figure that was not drawn")
            compact_png(out_dir / name)
        md, page = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
        md.write_text(self.markdown())
        page.write_text(self.html())
        return md, page


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse;margin:0.8rem 0;font-size:0.9rem}"
    "th,td{border:1px solid #ccc;padding:0.2rem 0.5rem;text-align:right}"
    "th:first-child,td:first-child{text-align:left}caption{text-align:left;padding:0.3rem 0}"
    "img{max-width:100%}figure{margin:1rem 0}figcaption{font-style:italic;color:#444}"
    "code{background:#f3f3f3;padding:0 0.2rem}pre{background:#f6f6f6;padding:0.6rem;overflow-x:auto}"
)
