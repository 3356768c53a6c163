"""Files a user may have been sent: names that would build paths outside their directory."""

from __future__ import annotations

import json

import pytest

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
