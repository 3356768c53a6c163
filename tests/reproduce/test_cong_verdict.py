"""cong2016's verdict table on hand-made runs: each row's outcome follows the constructed numbers,
a part without finished runs reads "no data", and the table opens the report."""

from __future__ import annotations

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.reproduce.cong2016 import STUDY
from asyncsgd.reproduce.cong2016.opening import (
    NO_DATA,
    Finding,
    Row,
    against,
    grouped,
    verdict_rows,
    verdict_section,
)
from asyncsgd.reproduce.cong2016.plan import BREAKDOWN, ENGINES, IMAGE, MOMENTUM, RATES, SPEEDUP, TEXT, TUNED
from asyncsgd.reproduce.document import Document, Table
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.reproduce.study import Plan
from asyncsgd.sweep.db import Member
from asyncsgd.theory.bound import delay_ratio

PREDICTION = {"prediction": {"alpha": 9.0, "inputs": {"lipschitz": 2.0}}}


def run(
    method: str, seed: int, acc: float, p: int = 4, *, status: str = "done", metrics=(), **extra
) -> RunView:
    """A run with p learners ending at test accuracy ``acc``; ``extra``: summary fields, or grid
    settings where named in ``point``."""
    point = {"learners": p, "seed": seed, **extra.pop("point", {})}
    summary = {"final_test_accuracy": acc, "lr": 0.1, "lr_source": PREDICTION, **extra}
    member = Member(
        0, method, method, point, f"{method}-{p}-{seed}-{point}", status, point, summary, "", 1, 0.0, 1.0
    )
    return RunView(member, list(metrics), [])


def timed(method: str, p: int, seed: int, seconds: float) -> RunView:
    """A speed-up run that reaches the target (0.85) after ``seconds`` of simulated time."""
    reached = {"update": p * seconds, "time": seconds, "test_accuracy": 0.86}
    start = {"update": 0.0, "time": 0.0, "test_accuracy": 0.1}
    return run(method, seed, 0.9, p, metrics=(start, reached), staleness={"p95": 2.0 * p, "max": 4 * p})


def shares(method: str, p: int, seed: int, comm: float) -> RunView:
    """A breakdown run spending ``comm`` % of its time communicating."""
    return run(method, seed, 0.9, p, time={"breakdown": {"compute": 100 - comm, "pull": comm}})


SEEDS = (0, 1, 2)
DEFINITIONS = {
    SPEEDUP: {"report": {"tables": [{"measures": ["engine_seconds_to:0.85"]}]}},
    TUNED: {"report": {"tunings": [{"key": "lr", "shared": 0.1}]}},
}


def runs_by_part() -> dict[str, list[RunView]]:
    return {
        # practical − predicted: +20 points at p = 1 (better), ±0.1 at p = 16 (equivalent)
        RATES: [run("practical", s, 0.80, 1) for s in SEEDS] + [run("predicted", s, 0.60, 1) for s in SEEDS]
        + [run("practical", s, 0.70 + 0.001 * s, 16) for s in SEEDS]
        + [run("predicted", s, 0.70 - 0.001 * (s - 1), 16) for s in SEEDS],
        # EAMSGD − Downpour: −40 points at p = 8
        IMAGE: [run("eamsgd", s, 0.5, 8) for s in SEEDS] + [run("downpour", s, 0.9, 8) for s in SEEDS],
        TEXT: [run("eamsgd", 0, 0.5, 8, status="failed")],
        # communication 20% with p = 1, 40% with p = 8 in the text set
        BREAKDOWN: [shares("text", p, s, c + s) for p, c in ((1, 20.0), (8, 40.0)) for s in SEEDS],
        # one learner takes 100 and 120 s, four take 50 and 60: S(4) = 2 in both seeds
        SPEEDUP: [timed(m, p, s, t * f) for m in ("practical", "predicted")
                  for s, t in ((0, 100.0), (1, 120.0)) for p, f in ((1, 1.0), (4, 0.5))],
        # EAMSGD − Downpour with server momentum: +5, +6, +7 points
        MOMENTUM: [run("downpour-momentum", s, 0.8, 8) for s in SEEDS]
        + [run("eamsgd", s, 0.85 + 0.01 * s, 8, point={"elastic_alpha": 0.1, "exchange_period": 4})
           for s in SEEDS],
        # the replay is exact; the simulator's model: +0, +3, −3 points (inconclusive)
        ENGINES: [run(m, s, 0.9, params_sha256="abc") for m in ("local", "replay") for s in SEEDS]
        + [run("simulated", s, 0.9 + d, params_sha256="x")
           for s, d in zip(SEEDS, (0.0, 0.03, -0.03), strict=True)],
        TUNED: [],
    }  # fmt: skip


def results(tmp_path, runs: dict[str, list[RunView]]) -> StudyResults:
    views = {part.key: SweepView(part.key, "", DEFINITIONS.get(part.key, {}), "", "", runs.get(part.key, []))
             for part in STUDY.parts}  # fmt: skip
    return StudyResults(STUDY, Plan("quick", smoke=True), str(tmp_path / "r.db"), views, tmp_path)


def by_claim(rows: list[Row], start: str) -> Row:
    return next(r for r in rows if r.claim.startswith(start))


def test_each_row_s_outcome_follows_the_constructed_numbers(tmp_path):
    rows = verdict_rows(results(tmp_path, runs_by_part()))
    rates = by_claim(rows, "(a)")
    assert [(f.setting, f.outcome) for f in rates.findings] == [("p = 1", "better"), ("p = 16", "equivalent")]
    assert rates.cells()[3] == "practical against predicted rate: **better**, **equivalent**"
    assert rates.cells()[4] == "better: p = 1; equivalent: p = 16"
    image = by_claim(rows, "(b) EAMSGD ends ahead of Downpour: image")
    assert image.claim.endswith("(the study: ahead at every p)")
    assert image.cells()[2:] == [
        "EAMSGD − Downpour, final test accuracy (points): p = 8: -40.0 [-40.0, -40.0] (n = 3)",
        "EAMSGD against Downpour: **worse**",
        "worse: p = 8",
    ]
    (share,) = by_claim(rows, "(c)").findings  # the image set has no runs: no finding
    # +20 points of communication at p = 8: worse from the point of view of p = 8
    assert (
        share.setting == "text set at p = 8"
        and share.outcome == "worse"
        and share.text.startswith("41.0%, +20.0")
    )
    practical, predicted = (by_claim(rows, c) for c in ("(e) at the practical", "(e) at the rate"))
    cost, cost_predicted = (r for r in rows if r.claim.startswith("(d), (e)"))
    assert [(f.setting, f.outcome) for f in practical.findings] == [("p = 4", "worse")]  # S(4) = 2 < 4
    # every seed: S(4) = 2; the interval is the evaluation grid's (every update), not of zero width
    assert predicted.findings[0].text.startswith("2.00 [1.98, 2.01] (n = 2)")
    # K_4/K_1 = 4 · 0.5 = 2 in both seeds, against the bound's R_4/R_1 with α = 9, T = 4
    bound = delay_ratio(9.0, 4.0)
    assert cost.claim.endswith(": practical rate") and cost_predicted.claim.endswith(
        ": predicted rate (lr = auto)"
    )
    assert [f.setting for f in cost.findings] == [f.setting for f in cost_predicted.findings] == ["p = 4"]
    assert cost.findings[0].outcome == ("better" if bound > 2.0 else "worse")
    assert f"against {bound:.2f} (T = τ max: {delay_ratio(9.0, 16.0):.2f})" in cost.findings[0].text
    (momentum,) = by_claim(rows, "(f)").findings
    assert (
        momentum.setting == "against server momentum 0.9: (α, τ_c) = (0.1, 4)"
        and momentum.outcome == "better"
    )
    replay, simulated = by_claim(rows, "(g) given").findings, by_claim(rows, "(g) the simulator").findings
    assert replay[0].outcome == "equivalent" and "bit-identical parameters in 3 of 3 seeds" in replay[0].text
    assert simulated[0].outcome == "inconclusive" and simulated[0].setting == "p = 4"
    assert {o for r in rows for o in r.outcomes()} == {"better", "worse", "equivalent", "inconclusive"}


def test_a_part_without_finished_runs_reads_no_data(tmp_path):
    rows = verdict_rows(results(tmp_path, {}))
    assert len(rows) == 13 and all(r.cells()[2:] == [NO_DATA, NO_DATA, "–"] for r in rows)
    text = by_claim(
        verdict_rows(results(tmp_path, runs_by_part())), "(b) EAMSGD ends ahead of Downpour: text"
    )
    assert text.cells()[2] == NO_DATA  # its one run failed
    assert text.claim.endswith("(the study: ahead at p = 2, 4 only)")  # from the digitised slides
    assert by_claim(verdict_rows(results(tmp_path, runs_by_part())), "(h)").cells()[3] == NO_DATA


def test_tuned_rows_judge_eamsgd_against_downpour_at_the_chosen_and_the_shared_rates(tmp_path):
    grid = {"downpour": {0.03: (0.8, 0.8), 0.1: (0.85, 0.95), 0.3: (0.9, 0.9)},
            "eamsgd": {0.01: (0.9, 0.93), 0.03: (0.92, 0.93), 0.1: (0.88, 0.92)}}  # fmt: skip
    runs = [run(m, s, test + 0.001 * s, 4, final_val_accuracy=val, point={"lr": lr})
            for m, rates in grid.items() for lr, (val, test) in rates.items() for s in SEEDS]  # fmt: skip
    rows = verdict_rows(results(tmp_path, {TUNED: runs}))
    tuned, shared = (
        by_claim(rows, f"(h) EAMSGD ends ahead of Downpour at {r}") for r in ("rates", "the shared")
    )
    # tuned: 93 − 90 = +3 at 0.3 / 0.03 (better); shared: 92 − 95 = −3 at 0.1 / 0.1 (worse)
    assert [(f.outcome, f.text) for f in tuned.findings] == [
        ("better", "+3.0 [+3.0, +3.0] (n = 3) at 0.3 / 0.03")
    ]
    assert [f.outcome for f in shared.findings] == ["worse"] and shared.findings[0].text.endswith(
        "at 0.1 / 0.1"
    )


def test_a_ratio_is_better_or_worse_only_where_its_interval_lies_on_one_side():
    assert against((2.0, 3.0), 4.0) == "worse" and against((5.0, 6.0), 4.0) == "better"
    assert against((3.0, 5.0), 4.0) == "inconclusive" and against(None, 4.0) == "inconclusive"
    assert against((2.0, 3.0), 4.0, larger_is_better=False) == "better"


def test_a_long_row_gives_the_tally_and_the_range():
    found = tuple(Finding(f"s{i}", "better" if i % 2 else "inconclusive", "x", float(i)) for i in range(8))
    row = Row("claim", "wording", "A against B", "A − B", found)
    assert row.cells()[2] == "A − B: 8 comparisons: better 4, inconclusive 4; d̄ from +0.0 to +7.0"


def test_the_verdict_table_is_the_first_table_of_the_report(tmp_path, monkeypatch):
    from asyncsgd.reproduce.cong2016 import text

    res = results(tmp_path, runs_by_part())
    doc = Document("t")
    verdict_section(doc, res)
    for name in dir(text):  # the parts' sections add nothing here: the order is what is tested
        if name.endswith("_section") and name not in ("verdict_section", "differences_section"):
            monkeypatch.setattr(text, name, lambda *args: None)
    report = text.report(res)
    tables = [b for b in report.blocks if isinstance(b, Table)]
    assert tables[0] == doc.blocks[1] and tables[0].header[:2] == ("claim", "published wording")
    assert report.blocks[1:3] == doc.blocks  # right after the introduction paragraph


def test_settings_that_differ_in_their_last_value_are_listed_once():
    assert grouped(["p = 1", "p = 16", "text set at p = 8", "p = 2"]) == "p = 1, 16, 2 and text set at p = 8"
    assert grouped(["against a: (α, τ_c) = (0.1, 1)", "against a: (α, τ_c) = (0.2, 4)"]) == (
        "against a: (α, τ_c) = (0.1, 1), (0.2, 4)"
    )
