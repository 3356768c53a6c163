"""``asyncsgd run --resume``: a good run continues bit for bit; anything wrong is refused in one line
naming the file, before any file of the run directory is opened for writing."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from asyncsgd.cli.main import main
from asyncsgd.config import load_experiment
from asyncsgd.experiment.checkpoint import FILE
from asyncsgd.experiment.runner import run_experiment
from tests.experiment.roundrobin import registered

SETTINGS = {
    "engine": "roundrobin", "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 3,
    "batch_size": 16, "lr": 0.05, "codec": "randomk", "ratio": 0.5, "error_feedback": True,
    "eval_every": 20, "checkpoint_every": 20,
}  # fmt: skip
A_UPDATES, B_UPDATES, STOP_IN_B = 30, 90, 50


def toml(name: str, settings: dict) -> str:
    def value(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    top = "\n".join(f"{k} = {value(v)}" for k, v in settings.items())
    return (
        f'name = "{name}"\n{top}\n[[methods]]\nname = "a"\nupdates = {A_UPDATES}\n'
        f'[[methods]]\nname = "b"\nupdates = {B_UPDATES}\n'
    )


def interrupted_run(root: Path, name: str = "exp", **changes: object) -> Path:
    """Method ``a`` finished, ``b`` interrupted after its checkpoint at 40 updates (pushes 41-50 to cut)."""
    root.mkdir(parents=True)
    (root / "exp.toml").write_text(toml(name, {**SETTINGS, **changes}))
    calls = iter(range(10**9))
    stop_after = A_UPDATES + STOP_IN_B  # calls 0..29: a's pushes, 30: after a, 30 + k: b's push k

    out = root / "run"
    with registered():
        exp = load_experiment(root / "exp.toml")
        result = run_experiment(exp, out, stop=lambda: next(calls) >= stop_after)
    assert result.interrupted and [m.summary["interrupted"] for m in result.methods] == [False, True]
    assert (out / "b" / FILE).is_file()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "base": interrupted_run(root / "base"),
        "hidden": interrupted_run(root / "hidden", hidden=[8]),
        "learners": interrupted_run(root / "learners", learners=2),
        "seed": interrupted_run(root / "seed", seed=7),
        "name": interrupted_run(root / "name", name="other"),
    }


@pytest.fixture
def run(runs, tmp_path) -> Path:
    """A fresh copy of the base run (a finished method ``a``, an interrupted, checkpointed ``b``)."""
    return Path(shutil.copytree(runs["base"], tmp_path / "run"))


def fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def resume(run: Path, capsys) -> tuple[int, str]:
    with registered():
        code = main(["run", "--resume", str(run), "--quiet"])
    return code, capsys.readouterr().err


def test_an_interrupted_run_resumes_bit_for_bit(runs, tmp_path, capsys):
    run = Path(shutil.copytree(runs["base"], tmp_path / "run"))
    checkpoint = torch.load(run / "b" / FILE, weights_only=True)
    assert checkpoint["updates"] == 40 and checkpoint["recorder"]["pushes"] == 40
    assert len((run / "b" / "trace.csv").read_text().splitlines()) == 1 + STOP_IN_B  # rows 41-50 get cut
    a_before = fingerprint(run / "a")
    code, err = resume(run, capsys)
    assert code == 0, err
    assert fingerprint(run / "a") == a_before  # the finished method is kept as it was
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "exp.toml").write_text(toml("exp", SETTINGS))
    with registered():
        run_experiment(load_experiment(whole / "exp.toml"), whole / "run")
    resumed, straight = (json.loads((d / "b" / "summary.json").read_text()) for d in (run, whole / "run"))
    assert resumed["updates"] == straight["updates"] == B_UPDATES and not resumed["interrupted"]
    assert resumed["params_sha256"] == straight["params_sha256"]
    assert (run / "b" / "trace.csv").read_bytes() == (whole / "run" / "b" / "trace.csv").read_bytes()
    summary = json.loads((run / "summary.json").read_text())
    assert list(summary["methods"]) == ["a", "b"]


def test_checkpoints_hold_plain_values_and_say_whose_they_are(run):
    from asyncsgd.experiment.checkpoint import check_plain

    state = torch.load(run / "b" / FILE, weights_only=True)  # no safe globals registered
    check_plain(state)
    assert state["format"] == 2 and (state["method"], state["experiment"]) == ("b", "exp")
    assert json.loads(state["settings"])["seed"] == 0 and state["learners"] == 3 and state["shards"] == 1
    learner = state["engine"]["learners"][0]
    assert type(learner["seeds"]) is torch.Tensor and learner["seeds"].dtype == torch.int64
    assert type(state["engine"]["streams"][0]["order"]) is torch.Tensor


def copy_from(key: str) -> Callable[[Path, dict[str, Path]], None]:
    def put(run: Path, runs: dict[str, Path]) -> None:
        shutil.copy(runs[key] / "b" / FILE, run / "b" / FILE)

    return put


def write(rel: str, data: bytes | Callable[[bytes], bytes]) -> Callable[[Path, dict[str, Path]], None]:
    def put(run: Path, runs: dict[str, Path]) -> None:
        path = run / rel
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)

    return put


def remove(rel: str) -> Callable[[Path, dict[str, Path]], None]:
    return lambda run, runs: (run / rel).unlink()


def saved(state_of: Callable[[dict], object]) -> Callable[[Path, dict[str, Path]], None]:
    """Rewrite the checkpoint as ``state_of(its state)`` (a plain torch.save)."""

    def put(run: Path, runs: dict[str, Path]) -> None:
        path = run / "b" / FILE
        torch.save(state_of(torch.load(path, weights_only=True)), path)

    return put


def link(rel: str) -> Callable[[Path, dict[str, Path]], None]:
    """``rel`` becomes a symbolic link to a file outside the run (what a shared directory may hold)."""

    def put(run: Path, runs: dict[str, Path]) -> None:
        outside = run.parent / f"outside-{Path(rel).name}"
        (run / rel).rename(outside)
        (run / rel).symlink_to(outside)

    return put


def edit_config(run: Path, runs: dict[str, Path]) -> None:
    path = run / "config.toml"
    path.write_text(path.read_text().replace("lr = 0.05", "lr = 0.1"))


def without(key: str) -> Callable[[dict], dict]:
    return lambda s: {k: v for k, v in s.items() if k != key}


BAD = {
    "corrupt checkpoint": (write("b/checkpoint.pt", lambda b: bytes(x ^ 0x5A for x in b)), "b/checkpoint.pt",
                           "not a readable checkpoint"),
    "truncated checkpoint": (write("b/checkpoint.pt", lambda b: b[: len(b) // 2]), "b/checkpoint.pt",
                             "not a readable checkpoint"),
    "empty checkpoint": (write("b/checkpoint.pt", b""), "b/checkpoint.pt", "is empty"),
    "text as checkpoint": (write("b/checkpoint.pt", b"hello\n"), "b/checkpoint.pt", "not a readable"),
    "another model": (copy_from("hidden"), "b/checkpoint.pt", "parameters, method 'b' has"),
    "another learner count": (copy_from("learners"), "b/checkpoint.pt", "holds 2 learners, method 'b' has 3"),
    "another run's settings": (copy_from("seed"), "b/checkpoint.pt", "seed: 7 then, 0 now"),
    "another experiment": (copy_from("name"), "b/checkpoint.pt", "experiment 'other'"),
    "edited config.toml": (edit_config, "b/checkpoint.pt", "config.toml was edited since"),
    "numpy in checkpoint": (saved(lambda s: {**s, "x": __import__("numpy").zeros(2)}), "b/checkpoint.pt",
                            "refused"),
    "bytes in checkpoint": (saved(lambda s: {**s, "engine": {**s["engine"], "blob": b"\x80\x05N."}}),
                            "b/checkpoint.pt", "refused: checkpoint.engine.blob is a builtins.bytes"),
    "old format": (saved(lambda s: {**s, "format": 1}), "b/checkpoint.pt", "another asyncsgd (format 1"),
    "no recorder": (saved(without("recorder")), "b/checkpoint.pt", "'recorder' missing"),
    "bad recorder": (saved(lambda s: {**s, "recorder": {**s["recorder"], "tau": [1, 2]}}), "b/checkpoint.pt",
                     "recorder 'tau' missing or malformed"),
    "not a dict": (saved(lambda s: [s]), "b/checkpoint.pt", "not an asyncsgd checkpoint"),
    "corrupt summary": (write("a/summary.json", lambda b: b[:-40]), "a/summary.json", "not a method summary"),
    "summary of nothing": (write("a/summary.json", b"[]"), "a/summary.json", "not a method summary"),
    "summary missing a key": (write("a/summary.json", lambda b: b.replace(b'"updates"', b'"upd"')),
                              "a/summary.json", "no updates"),
    "another method's summary": (write("a/summary.json", lambda b: b.replace(b'"a"', b'"b"', 1)),
                                 "a/summary.json", "summary of method 'b', not 'a'"),
    "finished, no metrics": (remove("a/metrics.csv"), "a/metrics.csv", "is missing"),
    "finished, bad metrics": (write("a/metrics.csv", lambda b: b + b"1,x\n"), "a/metrics.csv",
                              "not a metrics log"),
    "no trace": (remove("b/trace.csv"), "b/trace.csv", "is missing"),
    "short trace": (write("b/trace.csv", lambda b: b"".join(b.splitlines(keepends=True)[:30])), "b/trace.csv",
                    "holds 29 rows, the checkpoint counts 40"),
    "trace of other columns": (write("b/trace.csv", lambda b: b.replace(b"push_index", b"push", 1)),
                               "b/trace.csv", "columns"),
    "no metrics": (remove("b/metrics.csv"), "b/metrics.csv", "is missing"),
    "a linked log": (link("b/trace.csv"), "b/trace.csv", "is a symbolic link"),
    "a linked plot": (link("staleness.png"), "staleness.png", "is a symbolic link"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_resume_is_one_line_and_changes_no_file(run, runs, capsys, case):
    change, culprit, says = BAD[case]
    change(run, runs)
    before = fingerprint(run.parent)
    code, err = resume(run, capsys)
    assert code == 2
    assert err.startswith(f"asyncsgd: error: {run / culprit}: ") and err.count("\n") == 1, err
    assert says in err
    assert fingerprint(run.parent) == before


def test_a_directory_that_is_not_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "config.toml").write_text(toml("exp", SETTINGS))  # an experiment file, not a run
    before = fingerprint(tmp_path)
    code, err = resume(tmp_path, capsys)
    assert code == 2 and "is not a run directory" in err and err.count("\n") == 1
    assert fingerprint(tmp_path) == before
