"""docs/engines.md cannot drift: its measured numbers are generated blocks re-rendered from the
results the benchmarks recorded (benchmarks/engines_doc.py), the numbers its commentary quotes are
in the block the commentary is about, and no measured number is typed outside a block."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from benchmarks import engines_doc
from benchmarks.engines_doc import BLOCKS, ENGINES_DOC, engines_doc_blocks, render_engines_doc
from benchmarks.fault_soak import verdict

from tests.theory.test_docs import check_commentary

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ENGINES_DOC.read_text()
MEASURED = re.compile(
    r"\d(?:[\d,.]*\d)?\s?(?:ns|µs|ms|GB/s|MB/s|updates/s|calls/s)\b|\d\s?×|×\s?\d"
    r"|\d+(?:\.\d+)?\s?times (?:as|faster|slower)"
)
"""What a measured number typed into prose looks like: a time per operation, a rate, a factor."""
CONSTANTS = {"every 50 ms": "DRAIN_EVERY = 0.05"}
"""Numbers with units outside the blocks that are constants of the code, not measurements: the
phrase and the line of ``src/asyncsgd`` that sets it."""


def block(name: str, doc: str = DOC) -> str:
    found = re.search(rf"<!-- engines:{name} -->\n(.*?)<!-- /engines:{name} -->", doc, re.S)
    assert found is not None, f"docs/engines.md has no engines:{name} block"
    return found.group(1)


def outside_blocks(doc: str) -> str:
    return re.sub(r"<!-- engines:([\w-]+) -->\n.*?<!-- /engines:\1 -->", "", doc, flags=re.S)


def test_generated_blocks_match_what_generates_them():
    assert render_engines_doc(DOC) == DOC, "run: python -m benchmarks.report --write"


def test_a_block_that_drifts_from_its_result_is_caught(monkeypatch):
    recorded = engines_doc._load

    def edited(name: str) -> dict:
        r = recorded(name)
        if name == "ray_transport":
            r["rows"][-1]["chunked_ms_per_call"] += 1.0
        return r

    monkeypatch.setattr(engines_doc, "_load", edited)
    drifted = render_engines_doc(DOC)
    assert drifted != DOC and block("transport", drifted) != block("transport")
    assert block("soak", drifted) == block("soak")  # only the block of the edited result moves


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_every_block_ends_with_the_command_that_regenerates_it(name):
    last = block(name).strip().splitlines()[-1]
    assert re.search(r"`python -m benchmarks\.\w+", last), f"engines:{name} ends with {last!r}"
    assert block(name) == engines_doc_blocks()[name] + "\n"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_commentary_quotes_only_numbers_of_its_block(name):
    check_commentary(block(f"{name}-notes"), block(name), f"engines:{name}")


def test_no_measured_number_is_typed_outside_the_blocks():
    prose = outside_blocks(DOC)
    for phrase, line in CONSTANTS.items():
        assert prose.count(phrase) == 1, phrase
        assert any(line in f.read_text() for f in (ROOT / "src" / "asyncsgd").rglob("*.py")), line
        prose = prose.replace(phrase, "")
    for doc in (prose, (ROOT / "docs" / "architecture.md").read_text()):
        typed = MEASURED.findall(doc)
        assert typed == [], f"measured numbers outside a generated block: {typed}"


def test_the_check_for_typed_numbers_can_fail():
    assert MEASURED.findall("about 1.4 ms a call, 2–6× faster, 11 to 23 times as long") == [
        "1.4 ms",
        "6×",
        "23 times as",
    ]
    assert MEASURED.findall("a dozen stores; within 2 s; shards of 2^20 parameters") == []


def test_the_soak_totals_follow_from_its_runs():
    """The soak block's last row is the recorded verdict: it must be the runs' own."""
    r = json.loads((RESULTS / "fault_soak.json").read_text())
    assert {k: r[k] for k in verdict(r["rows"])} == verdict(r["rows"])
    assert r["met"], "the soak notes say the target was met"
