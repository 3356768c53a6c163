"""Documentation that cannot drift: generated parts must match what generates them, and links must
lead somewhere."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from benchmarks.report import BENCHMARKS_DOC, TABLES, render

from asyncsgd.cli.catalogue import readme_settings, render_readme

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
MAX_README_LINES = 400
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + len(heading) + 2)
    return text[start : end if end >= 0 else len(text)]


def test_readme_is_short():
    assert README.count("\n") < MAX_README_LINES, "move reference material into docs/"


def test_readme_generated_parts_match_what_generates_them():
    block = re.search(r"<!-- settings -->\n(.*?)\n<!-- /settings -->", README, re.S)
    assert block is not None
    assert block.group(1) == readme_settings(), "run: make docs"
    assert render_readme(README) == README, "run: make docs"


def test_readme_shows_the_default_experiment_file_itself():
    pattern = r"<!-- default-experiment -->\n```toml\n(.*?)```\n<!-- /default-experiment -->"
    block = re.search(pattern, README, re.S)
    assert block is not None, "the README's Configuration section shows the default experiment"
    path = ROOT / "src" / "asyncsgd" / "config" / "default.toml"
    assert block.group(1) == path.read_text(), "run: make docs"
    assert block.start() > README.index("\n## Configuration\n")
    shown = tomllib.loads(block.group(1))
    assert shown["lr"] == 0.1 and [m["name"] for m in shown["methods"]][-1] == "staleness-lr"


def test_readme_settings_table_says_what_the_default_experiment_uses_instead():
    rows = {row.split("`")[1]: row for row in readme_settings().splitlines()[2:]}
    assert '| `"mlp"` (default experiment: `"lenet"`) |' in rows["model"]
    assert "default experiment" not in rows["engine"]  # the same in both: said once


def test_every_settings_row_has_four_cells():
    """A bar inside a cell (``|m + g|``) is escaped, so it neither splits the row nor turns into ``/``."""
    block = README[README.index("<!-- settings -->") : README.index("<!-- /settings -->")]
    rows = [line for line in block.splitlines() if line.startswith("|")]
    assert len(rows) > 50 and all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in rows)
    assert r"\|m + g\|" in block and "/m + g/" not in block


def test_readme_says_the_local_engine_is_linux_only():
    engines = section(README, "## Engines")
    local = engines[engines.index("**`local`**") :]
    assert "Linux only" in local[: local.index("```")]


def test_benchmark_tables_match_the_results():
    text = BENCHMARKS_DOC.read_text()
    for name in TABLES:
        block = re.search(rf"<!-- bench:{name} -->\n(.*?)<!-- /bench:{name} -->", text, re.S)
        assert block is not None and "|" in block.group(1), f"empty table {name}"
    assert render(text) == text, "run: python -m benchmarks.report --write"
    assert "<!-- bench:" not in README, "benchmark tables live in docs/benchmarks.md"


def test_readme_quick_start_is_two_make_commands():
    part = README[README.index("## Quick start") :]
    fence = part.index("```bash\n") + len("```bash\n")
    block = part[fence : part.index("```", fence)]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_the_install_section_follows_the_introduction():
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[:2] == ["Install", "Quick start"]
    assert "pip install" in section(README, "## Install")


def anchors(page: Path) -> set[str]:
    """The fragment ids a page offers: GitHub's heading slugs (a repeated one numbered) and ``<a id>``s."""
    text = FENCE.sub("", page.read_text())
    seen: dict[str, int] = {}
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_and_anchor_that_exist(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (fragment and dest.suffix == ".md" and fragment not in anchors(dest)):
            broken.append(target)
    assert broken == []


def test_a_broken_anchor_is_caught(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# Title\n\n## `ray`: on a cluster\n\n## Notes\n\n## Notes\n")
    assert {"title", "ray-on-a-cluster", "notes", "notes-1"} == anchors(page)
