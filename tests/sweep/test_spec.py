"""Sweep definitions: grid expansion, precedence, stable run ids, and one-line errors naming the key."""

from __future__ import annotations

import tomllib

import pytest

from asyncsgd.config import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.sweep.spec import build_sweep, run_id

BASE = {"name": "s", "dataset": "synthetic", "model": "logreg", "updates": 10}


def sweep(**doc):
    return build_sweep({**BASE, **doc})


def test_grid_is_crossed_with_every_method_in_declaration_order():
    s = sweep(
        grid={"learners": [1, 4], "seed": [0, 1, 2]},
        methods=[{"name": "a"}, {"name": "b", "codec": "topk", "grid": {"ratio": [0.1, 0.5]}}],
    )
    assert len(s.runs) == 6 + 12
    assert [r.label for r in s.runs[:3]] == [
        "a learners=1 seed=0",
        "a learners=1 seed=1",
        "a learners=1 seed=2",
    ]
    assert s.runs[6].label == "b learners=1 seed=0 ratio=0.1"
    b = [r for r in s.runs if r.method == "b"]
    assert {(r.config.learners, r.config.seed, r.config.ratio) for r in b} == {
        (p, seed, ratio) for p in (1, 4) for seed in (0, 1, 2) for ratio in (0.1, 0.5)
    }
    assert all(r.config.codec == "topk" for r in b) and all(r.config.codec == "identity" for r in s.runs[:6])
    assert len({r.run_id for r in s.runs}) == len(s.runs)


def test_a_key_a_method_or_set_fixes_is_no_longer_crossed():
    s = build_sweep(
        {**BASE, "grid": {"learners": [2, 4], "seed": [0, 1]},
         "methods": [{"name": "seq", "learners": 1}, {"name": "p", "grid": {"lr": [0.1, 0.2]}}]},
        overrides=["seed=7", "p.lr=0.3"],
    )  # fmt: skip
    seq = [r for r in s.runs if r.method == "seq"]
    assert [r.point for r in seq] == [{}] and seq[0].config.learners == 1 and seq[0].config.seed == 7
    p = [r for r in s.runs if r.method == "p"]
    assert [r.point for r in p] == [{"learners": 2}, {"learners": 4}]
    assert all(r.config.lr == 0.3 and r.config.seed == 7 for r in p)


def test_run_id_is_a_stable_hash_of_the_resolved_settings():
    a = RunConfig.from_dict({"updates": 10, "lr": 1, "hidden": [64]})
    b = RunConfig.from_dict({"hidden": [64], "lr": 1.0, "updates": 10})  # order and int/float spelling
    assert run_id(a) == run_id(b) and len(run_id(a)) == 16
    changed = {
        "lr": 0.5,
        "hidden": [65],
        "seed": 1,
        "error_feedback": True,
        "bandwidth": 1e9,
        "remedy": "staleness_lr",
    }
    ids = {run_id(a.replace(**{k: v})) for k, v in changed.items()}
    assert len(ids) == len(changed) and run_id(a) not in ids
    # the same settings reached through different sweeps are the same run
    one = sweep(grid={"seed": [3]})
    other = sweep(seed=3, methods=[{"name": "x"}])
    assert one.runs[0].run_id == other.runs[0].run_id


def test_duplicate_settings_are_run_once_but_kept_as_members():
    s = sweep(methods=[{"name": "a", "lr": 0.1}, {"name": "b", "lr": 0.1}])
    assert len(s.runs) == 2 and len(s.unique_runs()) == 1


@pytest.mark.parametrize(
    ("doc", "overrides", "key"),
    [
        ({"grid": {"learnres": [1, 2]}}, [], "grid.learnres"),
        ({"grid": {"seed": 3}}, [], "grid.seed"),
        ({"grid": {"seed": []}}, [], "grid.seed"),
        ({"grid": {"ratio": [0.1, 2.0]}}, [], "grid.ratio"),
        ({"methods": [{"name": "t", "ratio": 0}]}, [], "t.ratio"),
        ({"methods": [{"name": "t", "grid": {"codec": ["topk", "zip"]}}]}, [], "t.grid.codec"),
        ({"methods": [{"name": "t", "lr": 0.1, "grid": {"lr": [0.2]}}]}, [], "t.grid.lr"),
        ({"methods": [{"name": "t"}, {"name": "t"}]}, [], "methods[1].name"),
        ({}, ["nosuch.lr=0.1"], "nosuch.*"),
        ({}, ["lr=-1"], "--set lr"),
        ({"name": "bad name"}, [], "name"),
        ({"dataset": "imagenet"}, [], "dataset"),
        ({"text_features": "words"}, [], "text_features"),
    ],
)
def test_bad_definitions_name_the_culprit(doc, overrides, key):
    with pytest.raises(ConfigError) as err:
        build_sweep({**BASE, **doc}, overrides)
    assert err.value.key == key
    assert len(str(err.value).splitlines()) == 1


def test_the_documented_example_parses():
    from asyncsgd.sweep import spec

    text = spec.__doc__.split("::")[1].split("\n\n", 1)[1].split("Precedence")[0]
    document = tomllib.loads("\n".join(line[4:] for line in text.splitlines()))
    s = build_sweep(document)
    assert s.name == "tiny" and len(s.runs) == 6 + 12


def test_the_documented_example_expands_as_its_output_says():
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "sweeps.md").read_text()
    block = re.search(r"<!-- sweep-example -->\n```toml\n(.*?)```\n<!-- /sweep-example -->", page, re.S)
    assert block is not None
    s = build_sweep(tomllib.loads(block.group(1)))
    assert f"sweep {s.name}: {len(s.unique_runs())} runs, 0 done before" in page


def test_the_kept_document_folds_in_the_overrides_and_expands_to_the_same_runs():
    doc = {**BASE, "grid": {"learners": [2, 4], "seed": [0, 1]},
           "methods": [{"name": "a", "lr": 0.2}, {"name": "b", "grid": {"lr": [0.1, 0.3]}}]}  # fmt: skip
    s = build_sweep(doc, ["seed=5", "lr=0.4", "b.learners=8"])
    assert s.document["seed"] == 5 and s.document["grid"] == {"learners": [2, 4]}
    assert s.document["methods"] == [{"name": "a", "lr": 0.4}, {"name": "b", "grid": {}, "learners": 8}]
    again = build_sweep(s.document)
    assert [(r.label, r.run_id) for r in again.runs] == [(r.label, r.run_id) for r in s.runs]
    assert [r.label for r in s.runs] == ["a learners=2", "a learners=4", "b"]
