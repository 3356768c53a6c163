"""The command line: one-line errors for bad settings, every output of a run, clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncsgd.cli.main import main

FAST = ["--set", "dataset=synthetic", "--set", "model=logreg", "--quiet"]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["learnres=4"], "learnres"),
        (["learners=four"], "learners"),
        (["learners=0"], "learners"),
        (["ratio=0"], "ratio"),
        (["ratio=1.5"], "ratio"),
        (["lr=-1"], "lr"),
        (["batch_size=0"], "batch_size"),
        (["error_feedback=maybe"], "error_feedback"),
        (["codec=zip"], "codec"),
        (["engine=mpi"], "engine"),
        (["remedy=magic"], "remedy"),
        (["delay=weibull"], "delay"),
        (["dataset=imagenet"], "dataset"),
        (["dataset=npz"], "data_path"),
        (["dataset=npz", "data_path=/no/such/file.npz"], "data_path"),
        (["updates=100"], "epochs"),
        (["batch_size=100000"], "batch_size"),
        (["slow_learners=99"], "slow_learners"),
        (["bandwidth=0"], "bandwidth"),
        (["device=gpu"], "device"),
        (["downpour.ratio=0"], "downpour.ratio"),
        (["nosuchmethod.lr=0.1"], "nosuchmethod"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key(tmp_path, capsys, overrides, key):
    args = ["run", "--out", str(tmp_path / "out"), *FAST]
    for item in overrides:
        args += ["--set", item]
    code, _out, err = run_cli(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("asyncsgd: error: ") and key in lines[0]
    assert not (tmp_path / "out").exists()  # nothing started


def test_bad_config_file_and_output_dir(tmp_path, capsys):
    code, _, err = run_cli(["run", str(tmp_path / "missing.toml")], capsys)
    assert code == 2 and "not found" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("learners = [")
    code, _, err = run_cli(["run", str(bad)], capsys)
    assert code == 2 and "not valid TOML" in err
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    code, _, err = run_cli(["run", "--out", str(full), *FAST], capsys)
    assert code == 2 and "not empty" in err


def test_end_to_end_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["run", "--out", str(out), *FAST, "--set", "epochs=1"], capsys)
    assert code == 0
    assert "downpour" in stdout and str(out) in stdout
    for name in (
        "config.toml",
        "summary.json",
        "accuracy_vs_updates.png",
        "accuracy_vs_samples.png",
        "staleness.png",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())["methods"]
    assert set(summary) == {"downpour", "topk-ef", "staleness-lr"}
    for method, s in summary.items():
        d = out / method
        assert (d / "trace.csv").stat().st_size > 0 and (d / "metrics.csv").stat().st_size > 0
        assert json.loads((d / "summary.json").read_text()) == s
        for key in ("final_test_accuracy", "final_train_loss", "updates", "samples", "engine", "learners",
                    "params_sha256", "bytes", "staleness"):  # fmt: skip
            assert key in s, key
        assert set(s["staleness"]) >= {"min", "mean", "p50", "p95", "max", "histogram"}
        assert s["samples"] >= 4096 and s["time"]["wall_seconds"] > 0
        trace_rows = (d / "trace.csv").read_text().strip().splitlines()
        assert len(trace_rows) - 1 == s["pushes"]
    assert summary["topk-ef"]["bytes"]["up"] < 0.05 * summary["downpour"]["bytes"]["up"]
    config = (out / "config.toml").read_text()
    assert 'codec = "topk"' in config and "error_feedback = true" in config


def test_methods_subset_and_list(tmp_path, capsys):
    out = tmp_path / "one"
    code, _, _ = run_cli(["run", "--out", str(out), *FAST, "--set", "updates=5", "--set", "epochs=0",
                          "--methods", "topk-ef"], capsys)  # fmt: skip
    assert code == 0 and [p.name for p in out.iterdir() if p.is_dir()] == ["topk-ef"]
    code, stdout, _ = run_cli(["list", "codecs"], capsys)
    assert code == 0 and "topk" in stdout
    code, stdout, _ = run_cli(["list", "settings"], capsys)
    assert "error_feedback" in stdout


def test_ctrl_c_stops_cleanly_and_keeps_partial_results(tmp_path):
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", "run", "--out", str(out), *FAST,
           "--set", "epochs=0", "--set", "updates=10000000", "--set", "eval_every=200"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trace = out / "downpour" / "trace.csv"
    deadline = time.time() + 60
    while time.time() < deadline and not (trace.exists() and trace.stat().st_size > 50_000):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    summary = json.loads((out / "downpour" / "summary.json").read_text())
    assert summary["interrupted"] and summary["stop_reason"] == "interrupted"
    assert 0 < summary["updates"] < 10_000_000
    rows = (out / "downpour" / "trace.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == summary["pushes"]
    assert not (out / "topk-ef").exists()  # later methods did not start
    assert json.loads((out / "summary.json").read_text())["methods"].keys() == {"downpour"}


def test_sigterm_also_writes_partial_summary(tmp_path):
    out = tmp_path / "terminated"
    cmd = [sys.executable, "-m", "asyncsgd.cli.main", "run", "--out", str(out), *FAST,
           "--set", "epochs=0", "--set", "updates=10000000"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    trace = out / "downpour" / "trace.csv"
    deadline = time.time() + 60
    while time.time() < deadline and not (trace.exists() and trace.stat().st_size > 10_000):
        time.sleep(0.1)
    proc.terminate()
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads(Path(out / "downpour" / "summary.json").read_text())["interrupted"]
