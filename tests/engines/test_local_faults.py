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
