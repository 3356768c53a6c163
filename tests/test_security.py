"""Files a user may have been sent: names that would build paths outside their directory, and
checkpoints that would run code when read."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asyncsgd.cli.main import main
from asyncsgd.config.files import build_experiment
from asyncsgd.errors import ConfigError
from asyncsgd.report import build_report
from asyncsgd.sweep.db import ResultsDB
from asyncsgd.sweep.spec import build_sweep

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
    (run / "config.toml").write_text('name = "x"\n' + TINY + "engine = 'local'\ncheckpoint_every = 2\n")
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


SWEEP = {"name": "s", "dataset": "synthetic", "model": "logreg", "updates": 10, "grid": {"seed": [0, 1]}}


def database(path: Path, doc: dict, rename: str | None = None) -> Path:
    """A results database with the sweep ``doc`` planned; ``rename``: its name, as a crafted file may say."""
    with ResultsDB(path) as db:
        db.save_sweep(build_sweep(doc))
    if rename is not None:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE sweeps SET name = ?", (rename,))
            conn.execute("UPDATE sweep_runs SET sweep = ?", (rename,))
        conn.close()
    return path


@pytest.mark.parametrize("name", ["../escaped", "VICTIM", ".", "a\n"])
def test_a_sweep_name_from_a_database_cannot_leave_the_report_directory(tmp_path, capsys, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "01-holiday.png").write_bytes(b"a photo")  # what a report removes as a stale figure
    db = database(tmp_path / "r.db", SWEEP, rename=name.replace("VICTIM", str(victim)))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["report", str(db), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asyncsgd: error: {db}: holds a sweep named ") and err.count("\n") == 1
    assert (victim / "01-holiday.png").read_bytes() == b"a photo"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_figure_names_from_a_recipe_stay_file_names(tmp_path):
    figure = {"kind": "curve", "y": "../../../x/y", "facet": "a/b"}
    db = database(tmp_path / "r.db", {**SWEEP, "report": {"figures": [figure]}})
    (report,) = build_report(db, tmp_path / "out")
    (png,) = (tmp_path / "out" / "s").glob("*.png")
    assert png.name == "01-curve-..-..-..-x-y-vs-update-by-a-b.png" and report.parent == png.parent


@pytest.mark.parametrize("target", ["javascript:alert", "JavaScript:alert", "data:text/html,x", "vbscript:x"])
def test_text_from_a_database_makes_no_script_link_in_an_html_report(target):
    from asyncsgd.reproduce.document import inline_html

    assert inline_html(f"see [this]({target})") == "see this"


def test_ordinary_links_stay_links():
    from asyncsgd.reproduce.document import inline_html

    for target in ("https://arxiv.org/abs/1", "01-curve.png", "#runs", "mailto:a@b.c"):
        assert inline_html(f"[t]({target})") == f'<a href="{target}">t</a>'


@pytest.mark.parametrize(
    ("address", "remote"),
    [("", False), ("auto", False), ("127.0.0.1:6379", False), ("localhost:6379", False),
     ("ray://127.0.0.1:10001", False), ("10.0.0.7:6379", True), ("ray://head.example:10001", True),
     ("head.example", True)],
)  # fmt: skip
def test_which_ray_addresses_leave_this_machine(address, remote):
    from asyncsgd.config.files import remote_cluster

    assert remote_cluster(address) is remote


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_file_cannot_send_the_driver_to_a_remote_ray_cluster(tmp_path, monkeypatch, capsys, command):
    """Joining a cluster lets it run code in the driver: a file's remote address must be confirmed."""
    from asyncsgd.config.files import load_experiment
    from asyncsgd.sweep.spec import load_sweep

    monkeypatch.chdir(tmp_path)
    text = "engine = 'ray'\nray_address = '10.0.0.7:6379'\nupdates = 1\ndataset = 'synthetic'\n"
    (tmp_path / "x.toml").write_text(text)
    assert main([command, "x.toml", "--dry-run"] if command == "sweep" else [command, "x.toml"]) == 2
    err = capsys.readouterr().err
    assert "ray_address: x.toml joins the Ray cluster at '10.0.0.7:6379'" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.toml"]
    load = load_sweep if command == "sweep" else load_experiment
    load("x.toml", ["ray_address=10.0.0.7:6379"])  # confirmed on the command line: accepted
    with pytest.raises(ConfigError, match="ray_address"):
        load("x.toml", ["seed=1"])  # other settings on the command line confirm nothing
