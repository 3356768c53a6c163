"""asyncsgd as a library: short reprs, the trained module, what a result's bits depend on, and the
local engine started from ``__main__``."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import asyncsgd
from asyncsgd.data import Dataset, load_dataset
from asyncsgd.vocabulary.flat import FlatModel

TINY = {"hidden": [16], "updates": 12, "learners": 2, "threads": 1}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(32, 8)
        self.b = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x.flatten(1))))


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return load_dataset("synthetic")


def test_a_dataset_prints_as_one_line_of_sizes(synthetic):
    text = repr(synthetic)
    assert "\n" not in text and len(text) < 200 and "tensor" not in text
    assert f"{synthetic.n_train:,} train" in text and f"{synthetic.num_classes} classes" in text
    ids = np.ones((5, 3), dtype=np.int64)
    tokens = Dataset.from_tokens("words", ids, np.arange(5) % 2, ids[:2], np.array([0, 1]), 7)
    assert "token ids (vocabulary 7)" in repr(tokens) and "(3,)" in repr(tokens)


def test_results_print_a_line_per_method_with_its_accuracy(synthetic):
    exp = asyncsgd.compare("mlp", synthetic, methods={"plain": {}, "topk": {"codec": "topk"}}, **TINY)
    lines = repr(exp).splitlines()
    assert len(lines) == 3 and "tensor" not in repr(exp)
    for line, method in zip(lines[1:], exp.methods, strict=True):
        acc = f"{100 * method.summary['final']['test_accuracy']:.2f}%"
        assert line.split()[0] == method.name and acc in line
    one = repr(exp["topk"])
    assert "\n" not in one and "topk" in one and len(one) < 200
    with pytest.raises(KeyError, match="plain"):
        exp["missing"]


def test_the_trained_module_predicts_what_the_flat_parameters_do(synthetic):
    model = Net()
    initial = [p.detach().clone() for p in model.parameters()]
    result = asyncsgd.train(model, synthetic, **TINY)
    trained = result.module
    assert trained is not model and not trained.training
    reference = FlatModel(Net())
    reference.load(result.params)
    reference.module.eval()
    with torch.no_grad():
        assert torch.equal(trained(synthetic.x_test), reference.module(synthetic.x_test))
        accuracy = float((trained(synthetic.x_test).argmax(1) == synthetic.y_test).float().mean())
    assert accuracy == pytest.approx(result.summary["final"]["test_accuracy"], abs=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(initial, model.parameters(), strict=True))
    # the state dict loads into a fresh instance; the module never shares memory with params
    fresh = Net()
    fresh.load_state_dict(result.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh(synthetic.x_test), trained(synthetic.x_test))
        next(trained.parameters()).add_(1.0)
    assert torch.equal(reference.params, result.params)


def test_a_registered_model_comes_back_trained_too(synthetic):
    result = asyncsgd.train("mlp", synthetic, **TINY)
    assert list(result.state_dict()) == ["1.weight", "1.bias", "3.weight", "3.bias"]
    flat = torch.cat([p.detach().reshape(-1) for p in result.module.parameters()])
    assert torch.equal(flat, result.params)


def test_summary_records_what_its_bits_depend_on(synthetic):
    env = asyncsgd.train("mlp", synthetic, **TINY).summary["environment"]
    assert env["torch"] == torch.__version__ and env["threads"] == 1
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert env["machine"] == platform.machine() and env["python"] == platform.python_version()


# -- the local engine from __main__ ------------------------------------------------------------

local = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="engine 'local' needs Linux")

MAIN_MODEL = """
import torch.nn as nn
import asyncsgd
print("top level", flush=True)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(32, 4)

    def forward(self, x):
        return self.linear(x.flatten(1))
"""
TRAIN = 'asyncsgd.train(Net(), "synthetic", engine="local", learners=2, updates=10, threads=1)'


def run_python(args: list[str], cwd: os.PathLike) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@local
def test_local_from_python_c_with_a_main_class_fails_at_once(tmp_path):
    done = run_python(["-c", MAIN_MODEL + TRAIN], tmp_path)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "cannot import Net defined in __main__" in last and "engine='sim'" in last
    assert "died before starting" not in done.stderr


@local
@pytest.mark.slow
def test_local_from_a_script_without_a_main_guard_fails_before_rerunning_it(tmp_path):
    script = tmp_path / "train_it.py"
    script.write_text(MAIN_MODEL + TRAIN + "\n")
    line = (MAIN_MODEL + TRAIN).count("\n") + 1
    done = run_python([str(script)], tmp_path)
    assert done.returncode != 0
    assert done.stdout.count("top level") == 1  # no learner re-ran the script
    last = done.stderr.strip().splitlines()[-1]
    assert "re-run the top level" in last and 'if __name__ == "__main__":' in last and f"line {line}" in last


@local
@pytest.mark.slow
def test_local_from_a_guarded_script_trains_its_main_class(tmp_path):
    script = tmp_path / "train_it.py"
    guarded = (
        MAIN_MODEL
        + "\nif __name__ == '__main__':\n"
        + textwrap.indent(f"print({TRAIN}.summary['updates'])", "    ")
    )
    script.write_text(guarded + "\n")
    done = run_python([str(script)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "10"
