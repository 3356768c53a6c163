"""The exit status says whether the work was done; interrupts and full disks lose nothing written.

Exit status 0 only when every method ran its whole budget, 1 when one stopped before it, 130 when
interrupted (a second Ctrl-C and a signal during set-up included, one line, no traceback).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asyncsgd.assembly.job import Job
from asyncsgd.cli.main import EXIT_STATUS, main
from asyncsgd.config.files import build_experiment
from asyncsgd.core.learner import Learner
from asyncsgd.experiment.interrupt import Interrupted, graceful_stop
from asyncsgd.experiment.runner import MethodAborted, run_experiment

FAST = ["--set", "dataset=synthetic", "--set", "model=mlp", "--set", "hidden=[16]", "--set", "epochs=0",
        "--set", "learners=2", "--quiet", "--methods", "downpour"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip


def python(script: str, *args: str) -> subprocess.Popen:
    """``script`` in a fresh interpreter (the test's sys.path), its output piped."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=cli_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_the_exit_statuses_are_documented():
    readme = (ROOT / "README.md").read_text()
    assert set(EXIT_STATUS) == {0, 1, 2, 130, 141}
    for code in EXIT_STATUS:
        assert f"| {code} |" in readme, code


# -- a run that did not finish its budget ------------------------------------------------------------
def test_a_run_that_diverges_is_a_result_exit_0_with_one_line_saying_so(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--out", str(out), *FAST, "--set", "lr=1e30", "--set", "updates=2000"])
    err = one_line(capsys.readouterr().err)
    summary = json.loads((out / "downpour" / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged" and summary["updates"] < 2000
    assert code == 0 and err.startswith(f"asyncsgd: downpour diverged at update {summary['updates']} ")
    assert json.loads((out / "summary.json").read_text())["methods"]["downpour"] == summary


class DyingLearner(Learner):
    """Dies (its process with it) at its 5th push: every learner does, so the run loses them all."""

    def push(self):  # type: ignore[no-untyped-def]
        self.cycles = getattr(self, "cycles", 0) + 1
        if self.cycles == 5:
            raise RuntimeError("this learner dies")
        return super().push()


class HangingLearner(Learner):
    """Stops pushing (alive, in a long wait) at its 5th push: every learner does, so the run stalls."""

    def push(self):  # type: ignore[no-untyped-def]
        self.cycles = getattr(self, "cycles", 0) + 1
        if self.cycles == 5:
            time.sleep(120)
        return super().push()


def hanging_learner(job: Job, i: int, flat) -> Learner:  # type: ignore[no-untyped-def]
    made = job.learner(i, flat)
    made.__class__ = HangingLearner
    return made


def dying_learner(job: Job, i: int, flat) -> Learner:  # type: ignore[no-untyped-def]
    made = job.learner(i, flat)
    made.__class__ = DyingLearner
    return made


@pytest.mark.slow
@pytest.mark.parametrize(
    ("factory", "settings", "reason"),
    [(hanging_learner, ["timeout=1"], "stalled"), (dying_learner, [], "learners_lost")],
    ids=["every-learner-hangs", "every-learner-lost"],
)
def test_a_local_run_that_ends_early_exits_1(tmp_path, capsys, monkeypatch, factory, settings, reason):
    from asyncsgd.engines.local.engine import LocalEngine

    init = LocalEngine.__init__
    monkeypatch.setattr(LocalEngine, "__init__", lambda self: init(self, learner_factory=factory))
    out = tmp_path / "out"
    extra = [a for s in settings for a in ("--set", s)]
    code = main(["run", "--out", str(out), *FAST, "--set", "engine=local", "--set", "updates=3000", *extra])
    err = capsys.readouterr().err
    summary = json.loads((out / "downpour" / "summary.json").read_text())
    assert summary["stop_reason"] == reason and summary["updates"] < 3000
    assert code == 1 and f"downpour ({reason})" in err.strip().splitlines()[-1]


# -- interrupts -----------------------------------------------------------------------------------
def test_a_signal_interrupts_set_up_at_once_and_only_sets_the_flag_once_polled():
    with graceful_stop(), pytest.raises(Interrupted, match="SIGTERM during set-up"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    with graceful_stop() as stop:
        assert not stop()  # polled from now on: a signal is a stop request
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stop() and stop.signal == signal.SIGTERM
        with pytest.raises(Interrupted, match="SIGINT a second time"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers put back


@pytest.mark.slow
def test_a_second_ctrl_c_writes_what_is_known_and_exits_130(tmp_path):
    # an engine slow to reach the end of its update: the first Ctrl-C cannot stop it in time
    out = tmp_path / "out"
    proc = python(
        """
        import sys, time
        from asyncsgd.metrics.recorder import Recorder
        polled = Recorder.stop_requested
        def slow(self):
            if self._stop():
                time.sleep(120)
            return polled(self)
        Recorder.stop_requested = slow
        from asyncsgd.cli.main import main
        sys.exit(main(sys.argv[1:]))
        """,
        "run", "--out", str(out), *FAST, "--set", "updates=10000000", "--set", "eval_every=200",
    )  # fmt: skip
    metrics = out / "downpour" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) > 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert proc.poll() is None  # the first Ctrl-C waits for the engine
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    line = one_line(err)
    assert "SIGINT a second time" in line and str(out / "summary.json") in line
    summary = json.loads((out / "downpour" / "summary.json").read_text())
    assert summary["stop_reason"] == "aborted" and summary["interrupted"]
    assert summary["params_sha256"] is None and 400 <= summary["updates"] < 10_000_000
    assert summary["final"]["update"] >= 400 and summary["pushes"] >= summary["updates"]
    assert json.loads((out / "summary.json").read_text())["methods"] == {"downpour": summary}
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_sigterm_while_lr_auto_is_measured_stops_at_once_writing_nothing(tmp_path):
    # lr = "auto" on 200 probe points takes minutes: set-up the engine never sees
    out = tmp_path / "out"
    proc = python(
        """
        import sys
        from asyncsgd.experiment import runner
        load = runner.load_config_dataset
        def loading(cfg):
            print("loading", flush=True)
            return load(cfg)
        runner.load_config_dataset = loading
        from asyncsgd.cli.main import main
        sys.exit(main(sys.argv[1:]))
        """,
        "run", "--out", str(out), *FAST, "--set", "updates=10", "--set", "lr=auto",
        "--set", "theory_points=200",
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "loading\n"
    time.sleep(0.5)
    proc.terminate()
    sent = time.time()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.time() - sent < 20
    assert "SIGTERM during set-up" in one_line(err)
    assert not out.exists()


@pytest.mark.slow
def test_sigterm_while_learners_start_stops_the_run_and_leaves_no_process(tmp_path, monkeypatch):
    import multiprocessing

    from asyncsgd.engines.local import engine

    wait_ready = engine._Run._wait_ready

    def signalled(self):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGTERM)  # the learners are being started
        time.sleep(0.1)
        return wait_ready(self)

    monkeypatch.setattr(engine._Run, "_wait_ready", signalled)
    doc = {"name": "e", "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 2,
           "engine": "local", "updates": 10**6}  # fmt: skip
    with graceful_stop() as stop, pytest.raises(MethodAborted) as caught:
        run_experiment(build_experiment(doc), tmp_path / "out", stop=stop)
    assert "SIGTERM during set-up" in str(caught.value.__cause__)
    summary = json.loads((tmp_path / "out" / "run" / "summary.json").read_text())
    assert summary["stop_reason"] == "aborted" and summary["updates"] == 0
    assert [p for p in multiprocessing.active_children() if p.name.startswith("asyncsgd-learner")] == []


# -- a full disk ----------------------------------------------------------------------------------------
LIMITED = """
import resource, signal, sys
import asyncsgd.experiment.runner  # imported first: a first import of matplotlib writes its cache
from asyncsgd.cli.main import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limit", "culprit"),
    # config.toml, trace.csv and metrics.csv fit in both; the method's summary.json only in the second
    [(2000, "downpour/summary.json"), (10_000, "accuracy_vs_updates.png")],
)
def test_an_output_that_cannot_be_written_leaves_no_part_of_it_and_one_line(tmp_path, limit, culprit):
    out = tmp_path / "out"
    proc = python(LIMITED + "sys.exit(main(sys.argv[2:]))\n",
                  str(limit), "run", "--out", str(out), *FAST, "--set", "updates=5")  # fmt: skip
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert one_line(err) == f"asyncsgd: error: cannot write {out / culprit}: File too large"
    assert (out / "downpour" / "trace.csv").exists() and not (out / culprit).exists()
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "summary.json"
    proc = python(
        LIMITED + """
from asyncsgd.metrics import write_json
write_json(__import__("pathlib").Path(sys.argv[2]), {"first": 1})
try:
    write_json(__import__("pathlib").Path(sys.argv[2]), {"second": "x" * 5000})
except OSError as err:
    print(err)
""",
        "1000", str(path),
    )  # fmt: skip
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == f"cannot write {path}: File too large"
    assert json.loads(path.read_text()) == {"first": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.slow
def test_a_log_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    out = tmp_path / "out"
    proc = python(LIMITED + "sys.exit(main(sys.argv[2:]))\n",
                  "4000", "run", "--out", str(out), *FAST, "--set", "updates=500")  # fmt: skip
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert one_line(err) == f"asyncsgd: error: cannot write {out / 'downpour' / 'trace.csv'}: File too large"
