"""Linked grid axes: settings that change together (a budget and its rate), crossed as one axis."""

from __future__ import annotations

import tomllib

import pytest

from asyncsgd.errors import ConfigError
from asyncsgd.reproduce.study import miniature
from asyncsgd.sweep.spec import build_sweep

BASE = {"name": "s", "dataset": "synthetic", "model": "logreg", "updates": 10}
BUDGETS = [{"updates": 20, "lr": 0.2}, {"updates": 80, "lr": 0.1}]


def test_a_linked_axis_crosses_its_tables_as_one_and_spreads_them_into_the_point():
    s = build_sweep({**BASE, "grid": {"budget": BUDGETS, "seed": [0, 1]}})
    assert [(r.config.updates, r.config.lr, r.config.seed) for r in s.runs] == [
        (20, 0.2, 0), (20, 0.2, 1), (80, 0.1, 0), (80, 0.1, 1),
    ]  # fmt: skip
    assert s.runs[0].point == {"updates": 20, "lr": 0.2, "seed": 0}
    assert s.runs[3].label == "run updates=80 lr=0.1 seed=1"


def test_the_tables_may_list_their_keys_in_any_order():
    s = build_sweep({**BASE, "grid": {"budget": [{"updates": 20, "lr": 0.2}, {"lr": 0.1, "updates": 80}]}})
    assert [r.label for r in s.runs] == ["run updates=20 lr=0.2", "run updates=80 lr=0.1"]


def test_a_linked_run_is_the_same_run_as_its_settings_written_out():
    linked = build_sweep({**BASE, "grid": {"budget": BUDGETS}})
    plain = build_sweep({**BASE, "updates": 80, "lr": 0.1})
    assert linked.runs[1].run_id == plain.runs[0].run_id


def test_a_key_fixed_by_a_method_or_set_leaves_the_linked_axis_which_crosses_the_rest():
    methods = [{"name": "a"}, {"name": "b", "lr": 0.5}, {"name": "c", "lr": 0.5, "updates": 5}]
    doc = {**BASE, "grid": {"budget": BUDGETS}, "methods": methods}
    s = build_sweep(doc)
    b = [r for r in s.runs if r.method == "b"]
    assert [(r.point, r.config.lr) for r in b] == [({"updates": 20}, 0.5), ({"updates": 80}, 0.5)]
    c = [r for r in s.runs if r.method == "c"]
    assert [r.point for r in c] == [{}]
    over = build_sweep(doc, ["a.updates=40"])
    assert [r.point for r in over.runs if r.method == "a"] == [{"lr": 0.2}, {"lr": 0.1}]
    folded = build_sweep(over.document)
    assert [(r.label, r.run_id) for r in folded.runs] == [(r.label, r.run_id) for r in over.runs]


def test_tables_made_equal_by_a_fixed_key_are_crossed_once():
    s = build_sweep({**BASE, "grid": {"budget": [{"updates": 20, "lr": 0.2}, {"updates": 80, "lr": 0.2}]}},
                    ["updates=30"])  # fmt: skip
    assert [r.point for r in s.runs] == [{"lr": 0.2}]


def test_a_method_grid_may_link_and_replaces_the_shared_axis_of_its_keys():
    doc = {**BASE, "grid": {"lr": [0.3, 0.4], "seed": [0]},
           "methods": [{"name": "a"}, {"name": "b", "grid": {"budget": BUDGETS}}]}  # fmt: skip
    s = build_sweep(doc)
    assert [r.point for r in s.runs if r.method == "a"] == [{"lr": 0.3, "seed": 0}, {"lr": 0.4, "seed": 0}]
    assert [r.point for r in s.runs if r.method == "b"] == [
        {"seed": 0, "updates": 20, "lr": 0.2}, {"seed": 0, "updates": 80, "lr": 0.1},
    ]  # fmt: skip


def test_the_smoke_plan_keeps_the_first_tables():
    doc = miniature({**BASE, "grid": {"budget": [*BUDGETS, {"updates": 160, "lr": 0.05}]}})
    assert [r.point for r in build_sweep(doc).runs] == [
        {"updates": 20, "lr": 0.2},
        {"updates": 40, "lr": 0.1},
    ]


@pytest.mark.parametrize(
    ("grid", "methods", "key"),
    [
        ({"budget": [{"updates": 20, "lr": 0.2}, {"updates": 80}]}, None, "grid.budget[1]"),
        ({"budget": [{"updates": 20}, 80]}, None, "grid.budget[1]"),
        ({"budget": [20, {"updates": 80}]}, None, "grid.budget[0]"),
        ({"budget": [{}]}, None, "grid.budget[0]"),
        ({"lr": [0.1], "budget": BUDGETS}, None, "grid.budget.lr"),
        ({"budget": BUDGETS, "lr": [0.1]}, None, "grid.lr"),
        ({"budget": BUDGETS, "rate": [{"lr": 0.1}]}, None, "grid.rate.lr"),
        ({"budget": [{"updates": 20, "lr": -1.0}]}, None, "grid.budget.lr"),
        ({"budget": [{"updates": 20, "lrr": 0.1}]}, None, "grid.budget.lrr"),
        ({}, [{"name": "t", "lr": 0.1, "grid": {"budget": BUDGETS}}], "t.grid.budget.lr"),
        ({}, [{"name": "t", "grid": {"budget": [{"lr": 0.1}, {"lr": 0}]}}], "t.grid.budget.lr"),
    ],
)
def test_bad_linked_axes_name_the_culprit(grid, methods, key):
    doc = {**BASE, "grid": grid} | ({"methods": methods} if methods else {})
    with pytest.raises(ConfigError) as err:
        build_sweep(doc)
    assert err.value.key == key
    assert len(str(err.value).splitlines()) == 1


def test_the_documented_linked_example_parses():
    from asyncsgd.sweep import spec

    text = spec.__doc__.split("::")[2].split("\n\n", 1)[1].split("\n\n")[0]
    grid = tomllib.loads("\n".join(line[4:] for line in text.splitlines()))["grid"]
    s = build_sweep({**BASE, "grid": grid})
    assert [(r.config.updates, r.config.lr) for r in s.runs[::3]] == [(250, 0.2), (1000, 0.1)]
