"""cong2016 (g): the local engine against the simulator replaying its schedule. Hand-made runs for
the table and the findings, and one real local run replayed through the study's own sweep file."""

from __future__ import annotations

import pytest

from asyncsgd.report.runs import RunView, SweepView, load_sweep_view
from asyncsgd.reproduce.cong2016 import STUDY
from asyncsgd.reproduce.cong2016.engines import findings, first_difference, replays
from asyncsgd.reproduce.cong2016.plan import ENGINES
from asyncsgd.reproduce.study import Plan
from asyncsgd.sweep import ResultsDB, build_sweep, run_sweep
from asyncsgd.sweep.db import Member
from asyncsgd.sweep.replay import pushes_table, recorded_pushes

PUSHES = "learner,tau,accepted\n0,0,1\n1,1,1\n2,1,1\n"


def run(method: str, seed: int, acc: float, sha: str = "abc", tau: float = 2.0, hist=()) -> RunView:
    summary = {"final_test_accuracy": acc, "params_sha256": sha, "staleness": {"mean": tau}}
    point = {"seed": seed}
    member = Member(0, method, method, point, f"{method}-{seed}", "done", point, summary, "", 1, 0.0, 1.0)
    return RunView(member, [], list(hist))


def view(runs: list[RunView]) -> SweepView:
    return SweepView("s", "", {}, "", "", runs)


def test_an_exact_replay_has_the_same_pushes_parameters_and_accuracy():
    runs = [run("local", 0, 0.9), run("replay", 0, 0.9), run("local", 1, 0.8), run("replay", 1, 0.7, sha="x")]
    pushes = {"local-0": PUSHES, "replay-0": PUSHES, "local-1": PUSHES,
              "replay-1": PUSHES.replace("2,1,1", "2,0,1")}  # fmt: skip
    rows = replays(view(runs), pushes.get)
    assert [r.seed for r in rows] == [0, 1]
    exact, off = rows
    assert exact.same_tau and exact.same_params and exact.difference == 0 and exact.pushes == 3
    assert off.same_tau is False and off.first_difference == 3 and off.same_params is False
    assert off.difference == pytest.approx(-10.0)
    text = findings(rows, [], [])[0]
    assert "same τ in 1 of 2 seeds" in text and "at most 10.00 points" in text and "not recompute" in text


def test_a_replay_without_recorded_pushes_is_unknown_not_exact():
    rows = replays(view([run("local", 0, 0.9), run("replay", 0, 0.9)]), {}.get)
    assert rows[0].same_tau is None and rows[0].pushes is None and rows[0].same_params


def test_sequences_differ_at_the_first_unequal_push_or_where_one_ends():
    a = [(0, 0, 1), (1, 1, 1)]
    assert first_difference(a, a) is None
    assert first_difference(a, [(0, 0, 1), (1, 0, 1)]) == 2
    assert first_difference(a, a[:1]) == 2


def test_the_simulator_s_own_model_is_judged_against_the_local_engine_by_seed():
    local = [run("local", s, a, tau=2.0, hist=(3, 1)) for s, a in enumerate((0.90, 0.91, 0.92))]
    simulated = [run("simulated", s, a, tau=3.0, hist=(1, 2, 1)) for s, a in enumerate((0.901, 0.912, 0.919))]
    text = findings([], local, simulated)[0]
    # differences +0.1, +0.2, −0.1 points: mean +0.07, far inside the 1-point margin
    assert (
        "+0.07 points (n = 3" in text
        and "**equivalent**" in text
        and "mean τ 3.00 against 2.00, τ = 0 for 25% of applied pushes against 75%" in text
    )


@pytest.mark.slow
def test_the_study_s_local_run_is_replayed_exactly_through_its_sweep_file(tmp_path):
    part = STUDY.part(ENGINES)
    doc = STUDY.document(Plan("quick", smoke=True), part)
    sweep = build_sweep(doc, ["dataset=synthetic", "hidden=[16]", "seed=0"])
    assert [r.method for r in sweep.runs] == ["local", "replay", "simulated"]
    with ResultsDB(tmp_path / "r.db") as db:
        progress = run_sweep(sweep, db, workers=1)
        assert progress.finished["done"] == 3
        v = load_sweep_view(db, sweep.name)
        rows = replays(v, lambda run_id: recorded_pushes(db, run_id))
        local = next(r for r in v.runs if r.member.method == "local")
        taus = [t for _, t, _ in pushes_table(recorded_pushes(db, local.member.run_id) or "")]
    assert len(rows) == 1 and rows[0].same_tau and rows[0].same_params and rows[0].difference == 0
    assert rows[0].pushes == len(taus) >= 40 and max(taus) >= 1  # four processes: some pushes are stale
