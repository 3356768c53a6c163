"""Documentation that cannot drift: generated tables must match what generates them."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.report import TABLES, render

from asyncsgd.cli.list_cmd import settings_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_settings_table_matches_the_schema():
    block = re.search(r"<!-- settings -->\n(.*?)\n<!-- /settings -->", README, re.S)
    assert block is not None
    assert block.group(1) == settings_markdown(), "run: make docs"


def test_readme_benchmark_tables_match_the_results():
    for name in TABLES:
        block = re.search(rf"<!-- bench:{name} -->\n(.*?)<!-- /bench:{name} -->", README, re.S)
        assert block is not None and "|" in block.group(1), f"empty table {name}"
    assert render(README) == README, "run: python -m benchmarks.report --write"


def test_readme_quick_start_is_two_make_commands():
    section = README[README.index("## Quick start") :]
    fence = section.index("```bash\n") + len("```bash\n")
    block = section[fence : section.index("```", fence)]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
