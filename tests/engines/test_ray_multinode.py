"""Two Ray nodes on loopback (Ray's own cluster utilities, tests/raycluster.py), one cluster for the
module: the ``ray`` engine with shards placed on one node and learners on the other by custom
resources, a learner killed on the learners' node, the summary's accounting and placement, bad
placement settings refused in one line; and ``asyncsgd sweep --ray``: runs as Ray tasks, the driver
alone writing the database, the same results as the local worker pool, resumption, traces shipped
back from the nodes, and a run whose worker process is killed (retried by Ray, then failed with a
one-line reason)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from asyncsgd.cli.main import main
from asyncsgd.config.schema import RunConfig
from asyncsgd.engines.ray import RayEngine
from asyncsgd.errors import ConfigError
from asyncsgd.metrics import Recorder
from asyncsgd.sweep import ResultsDB, build_sweep, raypool, run_sweep
from tests import raycluster
from tests.engines.conftest import actor_pids, wait_gone
from tests.engines.test_ray import ray_job
from tests.engines.test_ray_faults import check_accounting
from tests.tiny import TINY

pytestmark = pytest.mark.slow
two_nodes = raycluster.two_nodes  # the module's cluster (a fixture)


class KillLearnerAt(Recorder):
    """SIGKILLs learner 1's actor process once the run has made ``at`` pushes."""

    at = 80
    engine: RayEngine
    victim: int | None = None

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        if self.pushes == self.at:
            self.victim = self.engine.current.handles[1].info["pid"]
            os.kill(self.victim, signal.SIGKILL)


def test_shards_and_learners_on_different_nodes_survive_a_killed_learner(synthetic, two_nodes, tmp_path):
    updates = 600
    job = ray_job(synthetic, two_nodes.address, learners=3, shards=2, updates=updates,
                  ray_learner_resources="learners:1", ray_shard_resources="shards:1")  # fmt: skip
    engine = RayEngine()
    recorder = KillLearnerAt(tmp_path, job.dataset.n_train, 10**9, lambda p: {}, 3)
    recorder.engine = engine
    result = engine.run(job, recorder)
    recorder.close()
    extra = result.extra
    assert result.version == updates
    cluster = extra["cluster"]
    assert cluster["nodes"] == ["127.0.0.1"] and len(cluster["node_ids"]) == 2
    learner_nodes = {a["node_id"] for a in extra["actors"]["learners"] if "node_id" in a}
    shard_nodes = {a["node_id"] for a in extra["actors"]["shards"]}
    assert len(learner_nodes) == 1 and len(shard_nodes) == 1 and learner_nodes != shard_nodes
    assert learner_nodes | shard_nodes == set(cluster["node_ids"])
    assert extra["resources"]["learner"] == {"learners": 1.0} and extra["resources"]["shard"] == {
        "shards": 1.0
    }
    (death,) = extra["deaths"]
    assert death["learner"] == 1 and death["started"] and "worker process has died" in death["cause"]
    check_accounting(result, recorder)  # every update and push accounted for, torn ones included
    assert wait_gone([*actor_pids(extra), recorder.victim]) == []


def test_placement_the_cluster_cannot_offer_is_refused_in_one_line(synthetic, two_nodes):
    job = ray_job(synthetic, two_nodes.address, learners=5, ray_learner_resources="learners:1")
    with pytest.raises(
        ConfigError, match=r"ray_learner_resources: 5 actors × 1 'learners' need 5; the cluster offers 4"
    ):
        RayEngine().run(job, Recorder(None, job.dataset.n_train, 10**9, lambda p: {}, 5))


@pytest.mark.parametrize(
    ("text", "why"),
    [("learners", "NAME:AMOUNT"), ("learners:0", "NAME:AMOUNT"), ("learners:x", "NAME:AMOUNT"),
     ("CPU:1", "Ray's own resource"), ("a:1,a:2", "named twice"), ("a:0.00001", "multiple of")],
)  # fmt: skip
def test_bad_custom_resources_are_refused(text, why):
    with pytest.raises(ConfigError, match=why) as err:
        RunConfig.from_dict({"ray_shard_resources": text, "updates": 10})
    assert err.value.key == "ray_shard_resources" and "\n" not in str(err.value)


# -- asyncsgd sweep --ray -------------------------------------------------------------------------
SWEEP = {"name": "tiny-ray", **TINY, "grid": {"seed": [0, 1, 2]}}
"""Three tiny runs (simulator, mlp [16] on synthetic data, 20 updates)."""


def results(db: Path) -> dict[str, tuple[str, str]]:
    with ResultsDB(db, create=False) as read:
        members = read.members(SWEEP["name"])
    return {m.run_id: (m.status, m.summary["params_sha256"] if m.summary else "") for m in members}


def test_a_sweep_on_the_cluster_matches_the_local_pool_and_resumes(two_nodes, tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(
        'name = "tiny-ray"\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in TINY.items())
        + "[grid]\nseed = [0, 1, 2]\n"
    )  # fmt: skip
    here, there = tmp_path / "local.db", tmp_path / "ray.db"
    assert main(["sweep", str(path), "--db", str(here), "--workers", "1", "--quiet"]) == 0
    traces = tmp_path / "traces"
    args = ["sweep", str(path), "--db", str(there), "--ray", two_nodes.address, "--traces", str(traces)]
    assert main([*args, "--quiet"]) == 0
    local, ray = results(here), results(there)
    assert len(local) == 3 and ray == local  # same run ids, all done, the same params_sha256
    assert all(status == "done" for status, _ in ray.values())
    for run_id in ray:  # written by the driver from what each task shipped back
        summary = json.loads((traces / run_id / "summary.json").read_text())
        assert summary["params_sha256"] == ray[run_id][1]
        assert (traces / run_id / "trace.csv").read_text().count("\n") > TINY["updates"]
    capsys.readouterr()
    assert main([*args, "--quiet"]) == 0  # resume: nothing left to run
    assert "3 done before, 0 to run" in capsys.readouterr().out
    assert results(there) == ray


def run_processes(run_id: str) -> list[int]:
    """Ray worker processes executing the task of run ``run_id`` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"asyncsgd-run-{run_id}".encode() in title:
                found.append(int(entry.name))
    return found


def kill_when_running(run_id: str, times: int, killed: list[int]) -> None:
    deadline = time.monotonic() + 60
    while len(killed) < times and time.monotonic() < deadline:
        for pid in run_processes(run_id):
            if pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.02)


def test_a_run_whose_worker_is_killed_is_retried_then_recorded_failed(two_nodes, tmp_path, monkeypatch):
    """Its worker killed twice: Ray runs it again once (a second process), then the driver records
    it failed with Ray's reason in one line."""
    monkeypatch.setattr(raypool, "RETRIES", 1)
    sweep = build_sweep({**SWEEP, "updates": 3000, "grid": {"seed": [7]}})
    (run,) = sweep.unique_runs()
    killed: list[int] = []
    killer = threading.Thread(target=kill_when_running, args=(run.run_id, 2, killed), daemon=True)
    killer.start()
    with ResultsDB(tmp_path / "ray.db") as db:
        progress = run_sweep(sweep, db, ray=two_nodes.address)
    killer.join()
    assert len(killed) == 2  # the retry ran in a new worker process
    assert progress.finished["failed"] == 1
    with ResultsDB(tmp_path / "ray.db", create=False) as db:
        (member,) = db.members(sweep.name)
    status, error = member.status, member.error
    assert status == "failed" and error.startswith("Ray task lost after 1 retries: ") and "\n" not in error


def test_a_cluster_that_does_not_answer_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text('name = "tiny-ray"\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in TINY.items()))
    assert main(["sweep", str(path), "--db", str(tmp_path / "r.db"), "--ray", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("asyncsgd: error: --ray: ") and "\n" not in err


@pytest.mark.parametrize("name", ["../escaped.csv", "/tmp/absolute.csv", "a/../../up.csv", "."])
def test_files_a_task_sends_back_stay_in_the_runs_folder(tmp_path, name):
    folder = tmp_path / "runs" / "abc"
    with pytest.raises(ValueError, match="outside its folder"):
        raypool.write_files(folder, {"trace.csv": b"ok", name: b"x"})
    assert not folder.exists() and sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written
    raypool.write_files(folder, {"trace.csv": b"ok", "mlflow/run.db": b"y"})
    assert (folder / "mlflow" / "run.db").read_bytes() == b"y"
