"""Files a user may have been sent: names that would build paths outside their directory, and
checkpoints that would run code when read."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asyncsgd.cli.main import main
from asyncsgd.config.experiment import build_experiment
from asyncsgd.errors import ConfigError

TINY = 'dataset = "synthetic"\nmodel = "logreg"\nupdates = 5\nepochs = 0\neval_every = 5\n'


@pytest.mark.parametrize("name", ["../escaped", "../../x", "ABSOLUTE", "a/b", ".hidden", "x\n", ""])
def test_an_experiment_name_cannot_leave_runs(tmp_path, monkeypatch, capsys, name):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    name = name.replace("ABSOLUTE", str(work / "abs"))
    config = tmp_path / "exp.toml"
    config.write_text(f"name = {json.dumps(name)}\n" + TINY)
    assert main(["run", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asyncsgd: error: name: ") and err.count("\n") == 1
    assert list(work.iterdir()) == []  # nothing written, in runs/ or beside it


@pytest.mark.parametrize("name", ["../m", "m\n"])
def test_a_method_name_cannot_leave_the_run_directory(name):
    with pytest.raises(ConfigError) as err:
        build_experiment({"methods": [{"name": name}]})
    assert err.value.key == "methods[0].name"


def test_a_plain_experiment_name_still_names_the_run_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "exp.toml"
    config.write_text('name = "tiny.v2-a_b"\n' + TINY)
    assert main(["run", str(config), "--quiet"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("tiny.v2-a_b-") and (run / "run" / "summary.json").is_file()


class MakesAFile:
    """Unpickling this calls ``open(path, "w")``: what a crafted checkpoint could do instead."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def crafted_zip(path: Path, marker: Path) -> None:
    torch.save({"format": 2, "engine": {"x": MakesAFile(marker)}}, path)


def crafted_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(MakesAFile(marker), protocol=2))


def crafted_run(tmp_path: Path, craft) -> tuple[Path, Path, list]:
    run = tmp_path / "run"
    (run / "run").mkdir(parents=True)
    (run / "config.toml").write_text('name = "x"\n' + TINY + "checkpoint_every = 2\n")
    marker = tmp_path / "pwned"
    craft(run / "run" / "checkpoint.pt", marker)
    return run, marker, files(run)


def files(root: Path) -> list:
    return sorted((str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file())


def test_a_crafted_checkpoint_runs_nothing_on_resume(tmp_path):
    run, marker, before = crafted_run(tmp_path, crafted_zip)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "asyncsgd.cli.main", "run", "--resume", str(run), "--quiet"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert not marker.exists()
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"asyncsgd: error: {run / 'run' / 'checkpoint.pt'}: refused: ")
    assert files(run) == before


def test_a_bare_crafted_pickle_runs_nothing_either(tmp_path, capsys):
    run, marker, before = crafted_run(tmp_path, crafted_pickle)
    assert main(["run", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert err.startswith(f"asyncsgd: error: {run / 'run' / 'checkpoint.pt'}: ") and err.count("\n") == 1
    assert files(run) == before
