"""The ``ray`` engine under faults: a learner actor killed mid-run (``ray.kill`` or SIGKILL of its
process), one that dies holding the last updates of the budget, a replacement that dies as it
starts, a shard lost (a clear error, a valid checkpoint to resume from), Ctrl-C and resume from
the command line, and a stop request. Nothing may hang: every wait has a timeout, and every
update is accounted for."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from asyncsgd.engines.ray import RayEngine
from asyncsgd.errors import EngineFailure
from asyncsgd.experiment.checkpoint import load_checkpoint
from asyncsgd.experiment.runner import run_job
from asyncsgd.metrics import Recorder
from asyncsgd.metrics.summary import build_accounting
from tests.engines.conftest import actor_pids, wait_gone
from tests.engines.test_local import (
    check_stopped_promptly,
    descendants,
    process_exists,
    read_trace,
    stopping_at,
)
from tests.engines.test_local_faults import cli, resume_and_check
from tests.engines.test_ray import ray_job, run_ray

pytestmark = pytest.mark.slow


class KillAt(Recorder):
    """Kills learner 1 once the run has made ``at`` pushes: with ``ray.kill``, or SIGKILL of its process."""

    at = 60
    how = "ray.kill"
    engine: RayEngine
    victim: int | None = None

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if self.pushes != self.at:
            return
        handle = self.engine.current.handles[1]
        self.victim = handle.info["pid"]
        if self.how == "ray.kill":
            import ray

            ray.kill(handle.actor)
        else:
            os.kill(self.victim, signal.SIGKILL)


@pytest.mark.parametrize(("how", "respawn", "shards"), [("ray.kill", False, 1), ("sigkill", True, 1),
                                                         ("sigkill", False, 2)])  # fmt: skip
def test_a_killed_learner_is_detected_and_the_run_goes_on(synthetic, ray_head, tmp_path, how, respawn,
                                                          shards):  # fmt: skip
    # a respawned actor starts a fresh worker process (seconds, importing torch): the budget must
    # outlast it
    updates = 8000 if respawn else 600
    job = ray_job(synthetic, ray_head, learners=3, updates=updates, respawn=respawn, shards=shards)
    engine = RayEngine()
    recorder = KillAt(tmp_path, job.dataset.n_train, 10**9, lambda p: {}, 3)
    recorder.how, recorder.engine = how, engine
    start = time.monotonic()
    result = engine.run(job, recorder)
    recorder.close()
    assert time.monotonic() - start < 120
    assert result.version == updates  # the budget, exactly
    assert "stop_reason" not in result.extra and recorder.stop_reason == ""  # "budget"
    (death,) = result.extra["deaths"]
    assert death["learner"] == 1 and death["respawned"] is respawn and death["started"]
    assert ("ray.kill" if how == "ray.kill" else "worker process has died") in death["cause"]
    assert 0 < death["time"] <= result.time
    torn = check_accounting(result, recorder)
    trace = read_trace(tmp_path / "trace.csv")
    applied = [int(r["version"]) for r in trace if r["applied"] == "1"]
    assert sorted(applied + torn) == list(range(1, updates + 1))
    after = [r for r in trace if float(r["end_s"]) > death["time"] + 0.05]
    assert after, "the others went on"
    assert any(r["learner"] == "1" for r in after) is respawn
    assert wait_gone([recorder.victim, *actor_pids(result.extra)]) == []


def check_accounting(result, recorder: Recorder) -> list[int]:
    """Every update and every push accounted for (no drop rule here); the torn update numbers."""
    acc = build_accounting(recorder, result)
    assert acc["balanced"] and acc["numbered_drops"] == 0
    assert acc["lost"] == 0 and acc["lost_updates"] == [] and acc["torn"] == len(acc["torn_updates"])
    numbered = [t["update"] for t in acc["torn_updates"] if t["update"] is not None]
    assert acc["updates"] == result.version + acc["torn"] - len(numbered)
    for s, version in enumerate(result.extra["shard_versions"]):  # each shard's, torn ones included
        assert version == acc["applied"] + sum(s in t["applied_shards"] for t in acc["torn_updates"])
    return numbered


class KillEach(Recorder):
    """SIGKILLs learner 0, 1, 2 (their first incarnations) at pushes 80, 160, 240."""

    at = (80, 160, 240)
    engine: RayEngine

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if self.pushes in self.at:
            os.kill(self.engine.current.handles[self.at.index(self.pushes)].info["pid"], signal.SIGKILL)


def test_with_two_shards_and_learners_killed_every_update_is_accounted_for(synthetic, ray_head, tmp_path):
    """A learner killed while its push is on its way to the shards may leave it applied by some
    only (Ray does not run a dead caller's queued calls): the update is torn, and recorded so."""
    updates = 3000
    job = ray_job(synthetic, ray_head, learners=3, updates=updates, shards=2, respawn=True)
    engine = RayEngine()
    recorder = KillEach(tmp_path, job.dataset.n_train, 10**9, lambda p: {}, 3)
    recorder.engine = engine
    result = engine.run(job, recorder)
    recorder.close()
    assert result.version == updates and "stop_reason" not in result.extra
    assert [(d["learner"], d["respawned"]) for d in result.extra["deaths"]] == [
        (0, True),
        (1, True),
        (2, True),
    ]
    torn = check_accounting(result, recorder)
    for entry in result.extra["accounting"]["torn_updates"]:
        assert entry["applied_shards"] and entry["missing_shards"] and entry["incarnation"] == 1
    trace = read_trace(tmp_path / "trace.csv")
    assert sorted([int(r["version"]) for r in trace if r["applied"] == "1"] + torn) == list(
        range(1, updates + 1)
    )
    assert wait_gone(actor_pids(result.extra)) == []


def dies_near_the_end(job, i: int, flat):
    """Learner 1 stops just before the budget, holding a place in it (two shards: a reservation),
    while the others use up the rest and are turned away; then it dies."""
    made = job.learner(i, flat)
    if i == 1:
        push = made.push

        def push_or_die():
            if made._version >= job.max_updates - 10:
                time.sleep(1.0)
                os.kill(os.getpid(), signal.SIGKILL)
            return push()

        made.push = push_or_die
    return made


def test_a_learner_dying_with_the_last_updates_held_leaves_the_budget_to_the_others(synthetic, ray_head):
    """The others were turned away while the dead learner's reservation held the last update: the
    run gives it back and lets them finish (not ``learners_lost`` with the budget unspent)."""
    job = ray_job(synthetic, ray_head, learners=3, updates=300, shards=2)
    result, recorder = run_ray(job, learner_factory=dies_near_the_end)
    assert result.version == 300 and "stop_reason" not in result.extra, result.extra.get("stop_reason")
    (death,) = result.extra["deaths"]
    assert death["learner"] == 1 and death["released_reservation"]
    check_accounting(result, recorder)


def dies_again_when_replaced(job, i: int, flat):
    """Learners push at most 50 times a second (the run outlasts a replacement's start); learner 1
    dies after 40 updates, and its replacement as it is built."""
    import ray

    if i == 1 and not ray.get_runtime_context().get_actor_name().endswith(".1"):
        os.kill(os.getpid(), signal.SIGKILL)
    made = job.learner(i, flat)
    push = made.push

    def slow_push_or_die():
        if i == 1 and made._version >= 40:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.02)
        return push()

    made.push = slow_push_or_die
    return made


def test_a_replacement_that_dies_as_it_starts_is_one_more_death_and_the_run_goes_on(synthetic, ray_head,
                                                                                    tmp_path):  # fmt: skip
    job = ray_job(synthetic, ray_head, learners=3, updates=1500, respawn=True)
    result, recorder = run_ray(job, tmp_path, learner_factory=dies_again_when_replaced)
    first, second = result.extra["deaths"]  # not replaced again and again
    assert (first["learner"], first["incarnation"], first["started"], first["respawned"]) == (
        1,
        1,
        True,
        True,
    )
    assert (second["learner"], second["incarnation"], second["started"], second["respawned"]) == (
        1,
        2,
        False,
        False,
    )
    assert second["updates_when_detected"] < 1500  # it died while the others went on
    assert result.version == 1500 and "stop_reason" not in result.extra
    check_accounting(result, recorder)


def shard_killer(at: int):
    """A progress callback that kills shard 0's actor once the run reaches update ``at``."""

    def progress(version: int, samples: int) -> None:
        if version == at:
            import ray

            (name,) = [n for n in ray.util.list_named_actors() if n.endswith("-shard-0")]
            ray.kill(ray.get_actor(name))

    return progress


def test_a_lost_shard_stops_with_a_clear_error_and_the_checkpoint_resumes(synthetic, ray_head, tmp_path):
    job = ray_job(synthetic, ray_head, learners=3, updates=500, checkpoint_every=100, shards=2)
    with pytest.raises(EngineFailure) as err:
        run_job(job, tmp_path, progress=shard_killer(250))
    message = str(err.value)
    assert "shard 0 was lost" in message and "ray.kill" in message and "checkpoint" in message
    assert "\n" not in message
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint is not None and 200 <= checkpoint["updates"] < 250  # about every 100 updates
    done = run_job(job, tmp_path, checkpoint=checkpoint)
    assert done.summary["updates"] == 500 and done.summary["stop_reason"] == "budget"
    trace = read_trace(tmp_path / "trace.csv")
    assert [int(r["version"]) for r in trace if r["applied"] == "1"] != []
    assert sorted(int(r["version"]) for r in trace if r["applied"] == "1") == list(range(1, 501))


def test_a_stop_request_ends_the_run_promptly(synthetic, ray_head):
    job = ray_job(synthetic, ray_head, learners=3, updates=100_000)
    recorder = stopping_at(Recorder)(None, job.dataset.n_train, 10**9, lambda p: {}, 3)
    result, rec = run_ray(job, recorder=recorder)
    check_stopped_promptly(result, rec, time.perf_counter())


CONFIG = """
name = "resume"
engine = "ray"
ray_address = "{address}"
dataset = "synthetic"
model = "logreg"
learners = 3
batch_size = 16
lr = 0.05
updates = 1500
eval_every = 500
checkpoint_every = 300
[[methods]]
name = "run"
"""


def test_interrupt_then_resume_continues_from_the_checkpoint(ray_head, tmp_path):
    (tmp_path / "exp.toml").write_text(CONFIG.format(address=ray_head))
    out = tmp_path / "out"
    first = cli(str(tmp_path / "exp.toml"), "--out", str(out))
    deadline = time.monotonic() + 120
    while not (out / "run" / "checkpoint.pt").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=90)
    assert first.returncode == 130, err
    _, final = resume_and_check(out / "run", 300, 1500, 500)
    assert final["engine_info"]["checkpoints"] >= 1


def test_the_default_private_instance_runs_from_the_command_line_and_leaves_nothing(tmp_path):
    """``asyncsgd run --set engine=ray``: a private Ray instance on loopback, shut down at the end."""
    out = tmp_path / "out"
    settings = ["engine=ray", "learners=4", "dataset=synthetic", "model=logreg", "epochs=0", "updates=300"]
    run = cli(*(a for s in settings for a in ("--set", s)), "--methods", "downpour", "--out", str(out))
    pids: set[int] = set()
    while run.poll() is None:
        pids |= descendants(run.pid)
        time.sleep(0.05)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    summary = json.loads((out / "summary.json").read_text())["methods"]
    (method,) = summary.values()
    info = method["engine_info"]
    assert method["engine"] == "ray" and method["updates"] == 300
    assert info["cluster"]["private"] and info["cluster"]["nodes"] == ["127.0.0.1"]
    assert len(read_trace(Path(out) / next(iter(summary)) / "trace.csv")) == method["pushes"]
    assert {p.name for p in out.iterdir()} >= {"accuracy_vs_updates.png", "staleness.png", "summary.json"}
    assert len(pids) >= 5  # the raylet, the GCS, the actors ...
    deadline = time.monotonic() + 30
    while [p for p in pids if process_exists(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in pids if process_exists(p)] == []  # ... and none outlived the run
