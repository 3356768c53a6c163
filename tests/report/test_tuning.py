"""A rate chosen on the validation split: the pure choice on hand-made rows, its table, its recipe."""

from __future__ import annotations

import re

import pytest

from asyncsgd.cli.main import main
from asyncsgd.errors import ConfigError
from asyncsgd.report.markdown import render_tuning
from asyncsgd.report.recipe import default_recipe, parse_recipe
from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Tuning
from asyncsgd.report.tuning import Trial, choose
from asyncsgd.sweep.db import Member

GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def trials(group: str, scores: dict[float, list[float]], test: float = 0.5) -> list[Trial]:
    return [Trial(group, lr, s, test + lr) for lr, seeds in scores.items() for s in seeds]


def test_the_best_mean_validation_score_wins_not_the_best_single_run():
    rows = trials("a", {0.001: [0.1, 0.1], 0.01: [0.6, 0.6], 0.1: [0.95, 0.2], 1.0: [0.3, 0.3], 10.0: [0, 0]})
    (c,) = choose(rows, shared=0.1)
    assert (c.value, c.score, c.at_edge, c.coarse) == (0.01, pytest.approx(0.6), False, False)
    assert c.grid == GRID
    assert c.tested == (pytest.approx(0.51), pytest.approx(0.51))
    assert c.shared == (pytest.approx(0.6), pytest.approx(0.6))


def test_the_test_accuracy_plays_no_part_in_the_choice():
    rows = [Trial("a", lr, 0.5 if lr == 0.1 else 0.4, 1.0 if lr == 1.0 else 0.0) for lr in GRID]
    assert choose(rows)[0].value == 0.1


@pytest.mark.parametrize(("best", "edge"), [(0.001, True), (10.0, True), (0.1, False)])
def test_a_pick_at_either_end_of_the_grid_is_flagged(best, edge):
    rows = trials("a", {lr: [0.9 if lr == best else 0.5] for lr in GRID})
    assert choose(rows)[0].at_edge is edge and choose(rows)[0].value == best


def test_groups_are_chosen_apart_ties_go_to_the_smaller_rate_and_unscored_groups_choose_nothing():
    rows = [
        *trials("tied", {0.01: [0.7], 0.1: [0.7], 1.0: [0.2]}),
        *trials("other", {0.01: [0.1], 0.1: [0.2], 1.0: [0.9]}),
        Trial("unscored", 0.1, None, 0.4),
        Trial("unscored", 1.0, None, 0.6),
    ]
    tied, other, unscored = choose(rows, shared=1.0)
    assert (tied.group, tied.value, tied.coarse) == ("tied", 0.01, True)
    assert (other.value, other.at_edge) == (1.0, True)
    assert (unscored.value, unscored.tested, unscored.shared) == (None, (), (0.6,))
    assert choose(rows)[0].shared == ()


def run(method: str, lr: float, seed: int, val: float | None, test: float, position: int) -> RunView:
    summary = {"final_test_accuracy": test, **({"final_val_accuracy": val} if val is not None else {})}
    point = {"lr": lr, "seed": seed}
    member = Member(position, method, f"{method} {point}", point, f"r{position}", "done", point, summary,
                    "", 1, 0.0, 1.0)  # fmt: skip
    return RunView(member, [], [])


def test_the_table_shows_the_choice_the_edge_and_the_shared_rate():
    runs = []
    for method, best in (("downpour", 0.01), ("topk", 1.0)):
        for lr in (0.001, 0.01, 0.1, 1.0):
            for seed in (0, 1):
                val = 0.9 if lr == best else 0.5
                runs.append(run(method, lr, seed, val, 0.8 if lr == best else 0.6 + seed / 10, len(runs)))
    view = SweepView("s", "", {}, "", "db", runs)
    text = render_tuning(Tuning("lr", shared=0.1), view, ["method", "lr"])
    header, _, down, topk = text.splitlines()
    assert header.split(" | ")[1:] == ["lr grid", "chosen lr", "val acc %", "test acc % (chosen)",
                                       "test acc % (lr = 0.1)", "note |"]  # fmt: skip
    cells = [c.strip() for c in down.strip("|").split("|")]
    assert cells == ["downpour", "0.001, 0.01, 0.1, 1", "0.01", "90.00", "80.00 ± 0.00", "65.00 ± 7.07",
                     "grid of 4 values"]  # fmt: skip
    assert topk.split(" | ")[2] == "1" and "at the grid's edge" in topk
    unvalidated = SweepView(
        "s", "", {}, "", "db", [run("m", 0.1, 0, None, 0.5, 0), run("m", 1.0, 0, None, 0.6, 1)]
    )
    assert "no validation split" in render_tuning(Tuning(), unvalidated, ["method", "lr"])


def test_tunings_are_read_from_the_recipe_and_chosen_by_default_when_runs_were_validated():
    recipe = parse_recipe({"tunings": [{"shared": 0.1, "rows": ["method"]}]})
    assert recipe.tunings == (Tuning("lr", 0.1, ("method",)),)
    assert default_recipe(["method", "lr"], ["lr"], validated=True).tunings == (Tuning("lr"),)
    assert default_recipe(["method", "lr"], ["lr"]).tunings == ()
    for bad, key in (
        ({"shared": "0.1"}, "report.tunings[0].shared"),
        ({"keys": "lr"}, "report.tunings[0].keys"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_recipe({"tunings": [bad]})
        assert err.value.key == key


SWEEP = """
name = "tune"
dataset = "synthetic"
model = "logreg"
engine = "sim"
learners = 2
updates = 60
batch_size = 16
validation = 0.2

[grid]
lr = [0.001, 0.03, 1.0]
seed = [0, 1]
"""


@pytest.mark.slow
def test_asyncsgd_report_chooses_the_rate_of_a_validated_lr_grid(tmp_path, capsys):
    path = tmp_path / "tune.toml"
    path.write_text(SWEEP)
    db = tmp_path / "tune.db"
    assert main(["sweep", str(path), "--db", str(db), "--workers", "1", "--quiet"]) == 0
    assert main(["report", str(db), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "tune" / "report.md").read_text()
    section = text.split("## lr chosen on the validation split")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| 0.001, 0.03, 1 |"))
    assert re.match(r"\| 0\.001, 0\.03, 1 \| (0\.001|0\.03|1) \| \d+\.\d\d \|", row)
