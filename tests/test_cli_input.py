"""What the command line says to the names of other tools, to a sweep given to ``run``, and where
``--dry-run`` and ``report`` write (nothing, and the folder their help names)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from asyncsgd.cli.main import main
from asyncsgd.config.aliases import ALIASES, MEANT, suggestion
from asyncsgd.config.settings import declared
from tests.tiny import TINY_TOML

FAST = ["--set", "dataset=synthetic", "--set", "model=logreg", "--quiet"]
SWEEP = (
    'name = "tiny"\n'
    + TINY_TOML
    + """[grid]
lr = [0.05, 0.1]
[[methods]]
name = "downpour"
"""
)


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its bytes: what a command changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("learning_rate", "lr"), ("lr_rate", "lr"), ("lerning_rate", "lr"), ("Learning-Rate", "lr"),
        ("workers", "learners"), ("num_workers", "learners"), ("n_workers", "learners"),
        ("num_learners", "learners"), ("batchsize", "batch_size"), ("n_epochs", "epochs"),
        ("num_steps", "updates"), ("optimizer", "rule"), ("compression_ratio", "ratio"), ("ratoi", "ratio"),
    ],
)  # fmt: skip
def test_names_of_other_tools_are_suggested_not_accepted(tmp_path, capsys, name, meant):
    out = tmp_path / "out"
    code = main(["run", "--out", str(out), *FAST, "--set", f"{name}=4"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"asyncsgd: error: {name}: unknown setting (did you mean {meant!r}?)"
    assert not out.exists()


def test_the_alias_table_names_declared_settings_only():
    known = declared()
    assert set(ALIASES) <= set(known)
    assert not set(MEANT) & set(known)  # an alias never hides a real setting
    assert suggestion("zzzzzz", known) is None
    assert suggestion("theory_rat", known) == "theory_rate"  # spelling still wins where it is close


@pytest.mark.parametrize("table", ["[grid]\nlr = [0.05, 0.1]\n", "grid = { lr = [0.05, 0.1] }\n"])
def test_a_grid_in_a_run_file_points_to_sweep(tmp_path, capsys, table):
    path = tmp_path / "exp.toml"
    path.write_text('name = "e"\ndataset = "synthetic"\nmodel = "logreg"\nupdates = 5\n' + table)
    code = main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("asyncsgd: error: grid: ") and "asyncsgd sweep" in lines[0]
    assert "unknown setting" not in lines[0]


def test_dry_runs_write_nothing_at_the_default_paths(tmp_path, monkeypatch, capsys):
    """Defaults put databases under runs/ (runs/reproduce/ for studies): a dry run makes neither."""
    monkeypatch.chdir(tmp_path)
    Path("tiny.toml").write_text(SWEEP)
    before = tree(tmp_path)
    assert main(["sweep", "tiny.toml", "--dry-run", "--traces", "traces"]) == 0
    assert "2 runs, 2 to run → runs/tiny.db" in capsys.readouterr().out
    for study in ("cong2016", "candela2019"):
        assert main(["reproduce", study, "--smoke", "--dry-run"]) == 0
        assert f"database: runs/reproduce/{study}-quick-smoke.db" in capsys.readouterr().out
    assert tree(tmp_path) == before


@pytest.mark.slow
def test_dry_runs_and_report_on_a_real_database(tmp_path, monkeypatch, capsys):
    """After a real sweep: a dry run changes no byte and no file; ``report DB`` writes where its
    --help says (beside the database, named after it, one folder per sweep) and nothing else."""
    monkeypatch.chdir(tmp_path)
    Path("tiny.toml").write_text(SWEEP)
    assert main(["sweep", "tiny.toml", "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    before = tree(tmp_path)
    assert main(["sweep", "tiny.toml", "--dry-run"]) == 0
    assert main(["reproduce", "cong2016", "--smoke", "--dry-run", "--db", "runs/tiny.db"]) == 0
    assert tree(tmp_path) == before
    capsys.readouterr()
    assert main(["report", "runs/tiny.db"]) == 0
    printed = capsys.readouterr().out
    assert "report: runs/tiny-report/tiny/report.md" in printed.splitlines()
    made = set(tree(tmp_path)) - set(before)
    assert made and all(p.startswith("runs/tiny-report") for p in made)
    assert {k: v for k, v in tree(tmp_path).items() if k in before} == before


def test_report_help_names_its_default_folder(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "runs/NAME.db → runs/NAME-report/SWEEP/report.md" in capsys.readouterr().out
