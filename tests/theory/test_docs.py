"""docs/theory.md cannot drift: its worked example is re-rendered from the recorded output of
``asyncsgd theory lr`` (every prediction recomputed from the recorded estimates), its ratio table
is recomputed, and the numbers its commentary quotes are in the example."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.report import THEORY_DOC, render_theory_doc

from asyncsgd.theory import Estimates, Problem, predict

ROOT = Path(__file__).resolve().parents[2]
DOC = THEORY_DOC.read_text()


def block(name: str) -> str:
    found = re.search(rf"<!-- theory:{name} -->\n(.*?)<!-- /theory:{name} -->", DOC, re.S)
    assert found is not None, f"docs/theory.md has no theory:{name} block"
    return found.group(1)


def test_generated_blocks_match_what_generates_them():
    assert "asyncsgd theory lr" in block("lr") and "R_p/R_1" in block("ratio")
    assert render_theory_doc(DOC) == DOC, "run: python -m benchmarks.report --write"


def test_recorded_predictions_follow_from_the_recorded_estimates():
    recorded = json.loads((ROOT / "benchmarks" / "results" / "theory_lr.json").read_text())["document"]
    est = Estimates.from_dict(recorded["estimates"][0])
    for method in recorded["methods"]:
        inputs = method["prediction"]["inputs"]
        problem = Problem.from_inputs(inputs)
        pred = predict(est, problem, method["prediction"]["rule"], inputs["lipschitz_source"])
        assert pred.to_dict() == method["prediction"]


def test_commentary_quotes_only_numbers_of_the_example():
    example = block("lr")
    # 3,858 · 0.001668 · 5.212e-05 · 18 (single digits are prose: "8 learners")
    quoted = re.findall(r"\d{1,3}(?:,\d{3})+|\d+\.\d+(?:e[-+]?\d+)?|\d{2,}", block("lr-notes"))
    assert quoted, "the worked example has no commentary"
    missing = [q for q in quoted if q not in example]
    assert not missing, f"numbers quoted but not in the example: {missing}"


def test_ratio_plot_is_in_the_docs():
    assert (THEORY_DOC.parent / "theory_ratio.png").read_bytes()[:4] == b"\x89PNG"
