"""Studies as data: their packaged sweep files, the smoke miniature, and bad command lines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from asyncsgd.cli.main import main
from asyncsgd.errors import ConfigError
from asyncsgd.reproduce import SIZES, STUDIES, Plan, miniature
from asyncsgd.reproduce.study import SMOKE_EPOCHS, SMOKE_PROBE, SMOKE_UPDATES, SMOKE_VALUES


@pytest.mark.parametrize("name", STUDIES.names())
@pytest.mark.parametrize("size", SIZES)
def test_every_part_has_a_packaged_sweep_file_named_after_it(name, size):
    study = STUDIES.get(name)
    for part in study.parts:
        raw = tomllib.loads(study.sweep_file(size, part).read_text())
        assert raw["name"] == study.sweep_name(Plan(size), part) == f"{name}-{size}-{part.key}"
        assert raw.get("description") and raw.get("report"), "each file says what it is and shows"
    sweeps = study.sweeps(Plan(size))
    assert [s.name for _, s in sweeps] == [f"{name}-{size}-{p.key}" for p in study.parts]
    assert all(len(s.unique_runs()) >= 8 for _, s in sweeps)


def test_candela_plans_have_every_method_and_at_least_three_seeds():
    study = STUDIES.get("candela2019")
    for size in SIZES:
        for part, sweep in study.sweeps(Plan(size)):
            if part.key not in ("delays", "fixed"):  # the parts the verdict compares every method in
                continue
            methods = {r.method for r in sweep.runs}
            assert {"downpour", "topk", "topk-ef", "randomk-ef", "staleness-lr", "dc-asgd"} <= methods
            assert methods & {"sync", "sgd"}, "a synchronous or sequential reference"
            assert len({r.config.seed for r in sweep.runs}) >= 3
            assert {r.config.ratio for r in sweep.runs if r.method == "topk-ef"} >= {0.01, 0.1}
            assert all(r.config.eval_grad_norm for r in sweep.runs)
            axis = "learners" if part.key == "delays" else "staleness"
            values = {r.point[axis] for r in sweep.runs if axis in r.point}
            assert values == ({2, 4, 8, 16} if axis == "learners" else {4, 8, 16})


def test_set_reaches_every_run_of_every_part_and_a_method_override_only_its_runs():
    study = STUDIES.get("cong2016")
    sweeps = study.sweeps(Plan("full"), ["threads=1", "eamsgd.elastic_alpha=0.3"])
    runs = [r for _, s in sweeps for r in s.runs]
    assert all(r.config.threads == 1 for r in runs)
    assert {r.config.elastic_alpha for r in runs if r.method == "eamsgd"} == {0.3}
    assert {r.config.elastic_alpha for r in runs if r.method != "eamsgd"} == {0.1}


def test_the_smoke_miniature_keeps_the_structure_and_shrinks_the_budget():
    doc = {
        "name": "x", "description": "d", "updates": 1000, "lr": "auto",
        "grid": {"learners": [2, 4, 8, 16], "seed": [0, 1, 2]},
        "methods": [{"name": "a"}, {"name": "b", "epochs": 3.0, "grid": {"ratio": [0.01, 0.1, 0.5]}}],
        "report": {"tables": [{"measures": ["test_accuracy"]}]},
    }  # fmt: skip
    small = miniature(doc)
    assert small["grid"] == {"learners": [2, 4], "seed": [0, 1]} and SMOKE_VALUES == 2
    assert small["updates"] == SMOKE_UPDATES and small["methods"][1]["epochs"] == SMOKE_EPOCHS
    assert small["methods"][1]["grid"] == {"ratio": [0.01, 0.1]} and small["methods"][0] == {"name": "a"}
    assert all(small[k] == v for k, v in SMOKE_PROBE.items()) and small["report"] == doc["report"]
    assert doc["grid"]["seed"] == [0, 1, 2], "the original is left as it was"
    smoke = STUDIES.get("cong2016").sweeps(Plan("quick", smoke=True))
    assert smoke[0][1].name == "cong2016-quick-smoke-rates"


def test_a_plan_names_its_size():
    with pytest.raises(ConfigError, match="size: a study runs at quick, standard, full, got 'huge'"):
        Plan("huge")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "nosuch"], "unknown study 'nosuch'"),
        (["reproduce", "cong2016", "--quick", "--full"], "--full: choose one of --quick, --standard"),
        (["reproduce", "cong2016", "--standard", "--quick"], "--standard: choose one of --quick, --standard"),
        (["reproduce", "cong2016", "--set", "colour=1"], "--set colour"),
        (["reproduce", "cong2016", "--set", "ratio=0"], "--set ratio: must be in (0, 1]"),
        (
            ["reproduce", "cong2016", "--set", "nosuch.lr=0.1"],
            "--set nosuch.lr: no method 'nosuch' in cong2016",
        ),
        (["reproduce", "candela2019", "--set", "lr"], "--set"),
        (["reproduce", "candela2019", "--workers", "-1"], "--workers: must be >= 0"),
        (["reproduce", "candela2019", "--report-only"], "no such results database"),
    ],
)
def test_bad_input_is_one_line_naming_the_culprit_and_runs_nothing(argv, message, tmp_path, capsys):
    code = main([*argv, "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("asyncsgd: error: ") and message in err, err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "r.db").exists() and not (tmp_path / "out").exists()


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", STUDIES.names())
def test_the_committed_report_is_linked_from_the_readme_and_complete(name):
    readme = (ROOT / "README.md").read_text()
    folder = ROOT / "docs" / "results" / name
    assert f"(docs/results/{name}/report.md)" in readme and f"(docs/results/{name}/report.html)" in readme
    text = (folder / "report.md").read_text()
    assert text.startswith("# Reproduction of ")
    assert any(f"{size} scale" in text.splitlines()[0] for size in ("quick", "standard"))
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    html = (folder / "report.html").read_text()
    assert shown and sorted(shown) == sorted(p.name for p in folder.glob("*.png"))
    assert re.findall(r'<img src="([^"]+)"', html) == shown
    assert "Latest session: `asyncsgd reproduce " in text  # its wall time and load, from the database
    assert sum(p.stat().st_size for p in folder.iterdir()) < 1_000_000 and not list(folder.glob("*.db*"))
