"""The GPU machine's script (benchmarks/gpu.py) runs each of its steps end to end before a device is
lent: on the CPU at toy sizes (``--smoke``), with real engines; without CUDA it refuses in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_step_runs_on_the_cpu_and_writes_its_result(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu.json"]  # the partial file is gone
    r = json.loads((tmp_path / "gpu.json").read_text())
    assert r["sim_gpu"]["params_identical"] and set(r["sim_gpu"]["seconds"]) == {"1", "2"}
    assert r["sim_gpu"]["speedup"]["1"] == 1.0
    engines = r["engines_gpu"]["samples_per_s"]
    expected = {"plain", "local p=2"} | ({"ray p=2"} if r["engines_gpu"]["ray_installed"] else set())
    assert set(engines) == expected and all(v > 0 for v in engines.values())
    assert [m["model"] for m in r["sim_cpu"]] == ["mlp"] and r["sim_cpu"][0]["params_identical"]
    assert "load_average_after" in r


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_without_cuda_it_says_so_and_writes_nothing(capsys, tmp_path):
    from benchmarks import gpu

    assert gpu.main(["--out", str(tmp_path / "out")]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert not list((ROOT / "benchmarks" / "results").glob("gpu*.json"))


def test_smoke_needs_a_folder_to_write_to(capsys):
    from benchmarks import gpu

    with pytest.raises(SystemExit) as stop:
        gpu.main(["--smoke"])
    assert stop.value.code == 2 and "--out" in capsys.readouterr().err
