"""The ``local`` engine under faults: a learner killed mid-run, Ctrl-C, checkpoint and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asyncsgd.experiment.checkpoint import Checkpoints, Identity
from tests.engines.test_local import (
    PidRecorder,
    descendants,
    learner_pids,
    local_job,
    no_leftovers,
    process_exists,
    read_trace,
    run_local,
    shm_files,
)

__all__ = ["no_leftovers"]  # the fixture, shared with test_local


class KillAt(PidRecorder):
    """Kills learner 1 with SIGKILL once the run has made ``at`` pushes (wherever it is then)."""

    at = 80
    victim: int | None = None

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if self.pushes == self.at:
            import multiprocessing as mp

            (proc,) = [p for p in mp.active_children() if p.name == "asyncsgd-learner-1"]
            self.victim = proc.pid
            os.kill(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize(("respawn", "ssp_bound"), [(False, -1), (True, -1), (False, 1)])
def test_a_killed_learner_is_detected_and_the_run_goes_on(
    synthetic, tmp_path, no_leftovers, respawn, ssp_bound
):
    # a budget long enough to outlast death detection on a loaded machine; with bounded
    # staleness, a dead learner must stop holding the others back
    job = local_job(synthetic, updates=1500, respawn=respawn, ssp_bound=ssp_bound)
    recorder = KillAt(tmp_path, job.dataset.n_train, 10**9, lambda p: {}, 3)
    result, rec = run_local(job, recorder=recorder)
    no_leftovers.extend([*rec.seen, rec.victim])
    assert result.version == 1500 and rec.last_update == 1500
    (death,) = result.extra["deaths"]
    assert death["learner"] == 1 and death["signal"] == "SIGKILL" and death["respawned"] is respawn
    assert 0 < death["time"] <= result.time
    trace = read_trace(tmp_path / "trace.csv")
    after = [r for r in trace if float(r["end_s"]) > death["time"] + 0.05]
    assert after, "the others went on"
    assert any(r["learner"] == "1" for r in after) is respawn
    assert learner_pids() == set()


def cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "asyncsgd.cli.main", "run", *args, "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


CONFIG = """
name = "resume"
engine = "local"
dataset = "synthetic"
model = "mlp"
hidden = [16]
learners = 3
batch_size = 16
lr = 0.05
updates = 4000
eval_every = 1000
checkpoint_every = 300
[[methods]]
name = "run"
"""


def resume_and_check(method: Path, every: int, updates: int, eval_every: int) -> tuple[dict, dict]:
    """``--resume`` a run interrupted after its first checkpoint (every ``every`` updates): the
    update count, trace and metrics continue from the checkpoint with no gap. (partial, final)."""
    partial = json.loads((method / "summary.json").read_text())
    assert partial["interrupted"] and partial["stop_reason"] == "interrupted"
    assert every <= partial["updates"] < updates
    second = cli("--resume", str(method.parent))
    _, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    final = json.loads((method / "summary.json").read_text())
    trace = read_trace(method / "trace.csv")
    applied = [int(r["version"]) for r in trace if r["applied"] == "1"]
    assert final["updates"] == updates and not final["interrupted"]
    assert applied == list(range(1, updates + 1))  # update count continued from the checkpoint, no gap
    assert final["pushes"] == len(trace) and final["staleness"]["count"] == updates
    assert sum(v["pushes"] for v in final["time"]["per_learner"].values()) == len(trace)
    metrics = (method / "metrics.csv").read_text().splitlines()[1:]
    assert [int(float(m.split(",")[0])) for m in metrics] == list(range(0, updates + 1, eval_every))
    return partial, final


def test_interrupt_then_resume_continues_from_the_checkpoint(tmp_path):
    (tmp_path / "exp.toml").write_text(CONFIG)
    out = tmp_path / "out"
    first = cli(str(tmp_path / "exp.toml"), "--out", str(out))
    deadline = time.monotonic() + 120
    pids: set[int] = set()
    while not (out / "run" / "checkpoint.pt").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        pids |= descendants(first.pid)
        time.sleep(0.01)
    pids |= descendants(first.pid)
    assert len(pids) >= 4 and shm_files({first.pid, *pids}) == set()  # learners + forkserver
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    partial, final = resume_and_check(out / "run", 300, 4000, 1000)
    assert final["time"]["wall_seconds"] > partial["time"]["wall_seconds"]
    assert not [pid for pid in pids if process_exists(pid)]


def wait_for_learners_to_end(_params) -> dict:
    """An evaluation that lasts until every learner process has ended: the supervisor lags the
    learners as much as it possibly can."""
    deadline = time.monotonic() + 60
    while learner_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {}


@pytest.mark.parametrize("respawn", [False, True])
def test_stop_reason_is_judged_on_what_the_server_applied(synthetic, tmp_path, no_leftovers, respawn):
    # learner 1 dies early; the others finish the budget while the supervisor is still busy with
    # the evaluation at update 1400: the run reached its budget, whatever was delivered by then
    job = local_job(synthetic, updates=1500, learners=4, respawn=respawn)
    recorder = KillAt(tmp_path, job.dataset.n_train, 1400, wait_for_learners_to_end, 4)
    result, rec = run_local(job, recorder=recorder)
    no_leftovers.extend([*rec.seen, rec.victim])
    assert "stop_reason" not in result.extra, result.extra.get("stop_reason")
    assert result.version == 1500 and rec.last_update == 1500
    assert result.extra["accounting"]["updates"] == 1500


REPLACEMENT_FAILS = """
import json, os, signal, sys
import multiprocessing as mp

MARK = os.environ["ASYNCSGD_TEST_MARK"]
if __name__ == "__mp_main__" and os.path.exists(MARK):
    # every learner process imports the driver's script; this one is a replacement, being started
    os.kill(os.getpid(), signal.SIGKILL)


def run(learners, updates):
    from asyncsgd.config import RunConfig
    from asyncsgd.engines.local import LocalEngine
    from asyncsgd.assembly.job import Job
    from asyncsgd.metrics import Recorder

    class KillOne(Recorder):
        def on_push(self, record, timing, loss, samples):
            super().on_push(record, timing, loss, samples)
            if self.pushes == 60:
                open(MARK, "w").close()
                (proc,) = [p for p in mp.active_children() if p.name == "asyncsgd-learner-0"]
                os.kill(proc.pid, signal.SIGKILL)

    cfg = RunConfig.from_dict({"engine": "local", "dataset": "synthetic", "model": "mlp", "hidden": [16],
                               "learners": learners, "updates": updates, "batch_size": 16, "lr": 0.1,
                               "respawn": True, "timeout": 30})
    job = Job.from_config(cfg)
    recorder = KillOne(None, job.dataset.n_train, 10**9, lambda p: {}, learners)
    result = LocalEngine().run(job, recorder)
    os.unlink(MARK)
    return {"version": result.version, "stop_reason": result.extra.get("stop_reason", "budget"),
            "deaths": result.extra["deaths"]}


if __name__ == "__main__":
    print(json.dumps([run(3, 600), run(1, 10**6)]))
"""


@pytest.mark.slow
def test_a_replacement_that_dies_while_starting_is_one_more_death(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(REPLACEMENT_FAILS)
    mark = str(tmp_path / "mark")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ASYNCSGD_TEST_MARK": mark}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    others_go_on, none_left = json.loads(done.stdout.splitlines()[-1])
    for run in (others_go_on, none_left):
        killed, failed = run["deaths"]
        # its replacement never ran: the learner was not respawned, and the attempt is one more death
        assert killed["learner"] == 0 and killed["signal"] == "SIGKILL" and not killed["respawned"]
        assert failed["learner"] == 0 and failed["incarnation"] == 2 and not failed["respawned"]
        assert failed["cause"].startswith("could not be started")
    assert others_go_on["stop_reason"] == "budget" and others_go_on["version"] == 600
    assert none_left["stop_reason"] == "learners_lost" and none_left["version"] < 10**6


def is_plain(value) -> bool:
    """Only tensors, numbers, strings, None, and lists, tuples and dicts of them."""
    if isinstance(value, torch.Tensor | int | float | bool | str | None):
        return True
    if isinstance(value, list | tuple):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and is_plain(v) for k, v in value.items())
    return False


class Lagging(PidRecorder):
    """Notes the update count of every checkpoint and checks its state is plain; each evaluation
    takes 0.4 s, so the supervisor falls far behind the learners."""

    saved_at: list[int]

    def save_checkpoint(self, engine_state):
        # the engine's own part; each learner's state is the core learner's and the data streams'
        # own state dicts (plain too), handed over as they are: no pickled blob
        assert is_plain({k: v for k, v in engine_state.items() if k != "learners"})
        assert {type(state) for state in engine_state["learners"]} == {dict}
        self.saved_at.append(int(engine_state["updates"]))
        super().save_checkpoint(engine_state)


@pytest.mark.slow
@pytest.mark.parametrize("learners", [2, 3])
def test_no_checkpoint_is_skipped_when_the_supervisor_lags(synthetic, tmp_path, no_leftovers, learners):
    job = local_job(synthetic, updates=3000, learners=learners, checkpoint_every=500)
    recorder = Lagging(tmp_path, job.dataset.n_train, 250, lambda p: time.sleep(0.4) or {}, learners)
    recorder.saved_at = []
    recorder.checkpoints = Checkpoints(tmp_path, 500, Identity.of(job))
    result, rec = run_local(job, recorder=recorder)
    no_leftovers.extend(rec.seen)
    assert result.version == 3000 and result.extra["checkpoints"] == 5
    # at the first cycle boundary after each multiple: only pushes already under way land past it
    marks = [500, 1000, 1500, 2000, 2500]
    assert [m <= at < m + learners for m, at in zip(marks, rec.saved_at, strict=True)] == [True] * 5
