"""docs/theory.md cannot drift: its generated blocks are re-rendered from the recorded outputs of
``asyncsgd theory lr``, of the commands benchmarks/theory_numbers.py runs, and from
:mod:`asyncsgd.theory.bound` (every prediction and bound recomputed from the recorded constants),
and the numbers its commentary quotes are in the block the commentary is about."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from benchmarks.report import THEORY_DOC, render_theory_doc, theory_doc_blocks

from asyncsgd.theory import Constants, Estimates, Problem, predict
from asyncsgd.theory.render import bound_dict

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
DOC = THEORY_DOC.read_text()
NOTES = ("lr", "t0", "kink", "probes", "run")
"""Blocks with commentary (``theory:NAME-notes``) that quotes their numbers."""
# 3,858 · 0.001668 · 5.212e-05 · 18 (single digits are prose: "8 learners")
QUOTED = re.compile(r"\d{1,3}(?:,\d{3})+|\d+\.\d+(?:e[-+]?\d+)?|\d{2,}")


def block(name: str, doc: str = DOC) -> str:
    found = re.search(rf"<!-- theory:{name} -->\n(.*?)<!-- /theory:{name} -->", doc, re.S)
    assert found is not None, f"docs/theory.md has no theory:{name} block"
    return found.group(1)


def missing_quotes(notes: str, example: str) -> list[str]:
    """The numbers ``notes`` quotes that ``example`` does not contain."""
    return [q for q in QUOTED.findall(notes) if q not in example]


def check_commentary(notes: str, body: str, label: str) -> None:
    """A block's commentary quotes numbers, and only numbers of the block."""
    assert QUOTED.findall(notes), f"{label} has no commentary"
    missing = missing_quotes(notes, body)
    assert not missing, f"numbers quoted in {label}-notes but not in {label}: {missing}"


def test_generated_blocks_match_what_generates_them():
    assert "asyncsgd theory lr" in block("lr") and "R_p/R_1" in block("ratio")
    assert render_theory_doc(DOC) == DOC, "run: python -m benchmarks.report --write"


@pytest.mark.parametrize("name", sorted(theory_doc_blocks()))
def test_every_block_ends_with_the_command_that_regenerates_it(name):
    last = block(name).strip().splitlines()[-1]
    assert re.search(r"`python -m benchmarks\.\w+", last), f"theory:{name} ends with {last!r}"


def test_recorded_predictions_follow_from_the_recorded_estimates():
    recorded = json.loads((RESULTS / "theory_lr.json").read_text())["document"]
    est = Estimates.from_dict(recorded["estimates"][0])
    for method in recorded["methods"]:
        inputs = method["prediction"]["inputs"]
        problem = Problem.from_inputs(inputs)
        pred = predict(est, problem, method["prediction"]["rule"], inputs["lipschitz_source"])
        assert pred.to_dict() == method["prediction"]


def test_probe_table_predictions_follow_from_their_estimates():
    rows = json.loads((RESULTS / "theory_numbers.json").read_text())["probes"]
    assert len(rows) >= 4 and [r["set"] for r in rows[:4]] == [[f"seed={s}"] for s in range(4)]
    for row in rows:
        est, recorded = Estimates.from_dict(row["estimates"]), row["prediction"]
        inputs = recorded["inputs"]
        pred = predict(est, Problem.from_inputs(inputs), recorded["rule"], inputs["lipschitz_source"])
        assert pred.to_dict() == recorded
        assert row["lr"] == pred.lr and row["f_last"] == est.loss[-1]
        assert row["lipschitz_hessian_max"] == est.lipschitz_hessian.max
        assert row["sigma2_max"] == est.sigma2_sample.max


def test_recorded_bound_follows_from_its_constants():
    recorded = json.loads((RESULTS / "theory_numbers.json").read_text())
    bound, run = recorded["bound"], recorded["runs"]["auto"]
    k = bound["constants"]
    c = Constants(k["d_f"], k["lipschitz"], k["sigma2_update"], k["updates"])
    assert bound["lr"] == run["lr"] and bound["delay"] == run["staleness"]["max"]
    expected = bound_dict(c, bound["lr"], bound["delay"], run["learners"])
    assert {key: bound[key] for key in expected} == expected


@pytest.mark.parametrize("name", NOTES)
def test_commentary_quotes_only_numbers_of_its_block(name):
    check_commentary(block(f"{name}-notes"), block(name), f"theory:{name}")


def test_a_quoted_number_missing_from_its_block_is_caught():
    assert missing_quotes("lr = 0.001668, K ≥ 3,858, 8 learners", "lr 0.001668 K 3,858") == []
    assert missing_quotes("ratio 4.366 at T = 58", "ratio 4.366 at T = 57") == ["58"]
    assert missing_quotes("γ = 5.212e-05", "γ = 5.212e-04") == ["5.212e-05"]


def test_ratio_plot_is_in_the_docs():
    assert (THEORY_DOC.parent / "theory_ratio.png").read_bytes()[:4] == b"\x89PNG"
