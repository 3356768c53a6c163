"""The ``ray`` engine across two Ray nodes (two ``ray start`` processes on loopback): shards placed on
one node and learners on the other by custom resources, a learner killed on the learners' node, the
summary's accounting and placement; bad placement settings refused in one line."""

from __future__ import annotations

import os
import signal

import pytest

from asyncsgd.config.schema import RunConfig
from asyncsgd.engines.ray import RayEngine
from asyncsgd.errors import ConfigError
from asyncsgd.metrics import Recorder
from tests import raycluster
from tests.engines.conftest import actor_pids, wait_gone
from tests.engines.test_ray import ray_job
from tests.engines.test_ray_faults import check_accounting

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
