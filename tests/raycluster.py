"""A real two-node Ray cluster on loopback, for the multi-node engine and sweep tests (and the
multi-node benchmarks).

Ray 2.60's ``ray start`` cannot make a second node on loopback: with
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (which keeps Ray's servers on 127.0.0.1) it refuses to join,
and with ``=1`` it rewrites 127.0.0.1 to the machine's network address and binds there. So the
cluster is Ray's own ``ray.cluster_utils.Cluster``, run by ``python -m tests.raycluster`` in a
process session of its own: a head node offering the custom resource ``shards`` and a second node
offering ``learners``, both raylets bound to 127.0.0.1, few logical CPUs each, their files in a
folder of the test's tmp dir, token authentication on with a fresh token. Closing its standard
input ends it (``Cluster.shutdown``, for those two nodes only: never ``ray stop``, which would end
every Ray instance of the machine); tear-down then kills whatever of its session is left and
checks that nothing survives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asyncsgd.engines.ray.cluster import LOOPBACK, ray_installed
from tests.engines.conftest import private_token, ray_environment, session_processes

NODE_CPUS = 4
"""Logical CPUs each node offers (Ray reserves them; they are not cores)."""
START_SECONDS = 120.0
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoopbackCluster:
    address: str
    folder: Path
    process: subprocess.Popen


def reload_token() -> None:
    """Make this process's next Ray connection read the token RAY_AUTH_TOKEN_PATH names now (Ray
    reads it once and keeps it: a second cluster, or the session's head after this one, would be
    refused)."""
    from ray._raylet import AuthenticationTokenLoader

    AuthenticationTokenLoader.instance().reset_cache()


def loopback_cluster(folder: Path, cpus: int = NODE_CPUS, store_mib: int = 150) -> Iterator[LoopbackCluster]:
    """Start the two nodes, yield the cluster, end them (a generator for a module fixture)."""
    from asyncsgd.engines.ray.cluster import ray_environment as driver_environment

    driver_environment()  # before anything imports Ray in this process
    saved = os.environ.get("RAY_AUTH_TOKEN_PATH")
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(private_token(folder))
    reload_token()
    env = {**ray_environment(), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = (folder / "cluster.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.raycluster", str(folder / "t"), str(cpus), str(store_mib)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
        start_new_session=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address.startswith(f"{LOOPBACK}:"), (folder / "cluster.log").read_text()
        yield LoopbackCluster(address, folder, process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
        deadline = time.monotonic() + 30
        while (left := session_processes(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        if left:
            os.killpg(process.pid, signal.SIGKILL)
        if saved is None:
            os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        else:
            os.environ["RAY_AUTH_TOKEN_PATH"] = saved
        reload_token()
    assert left == [], "processes of the loopback Ray cluster outlived it"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """The two-node loopback cluster, for one test module (import it into the module)."""
    if not ray_installed():
        pytest.skip("the ray extra is not installed (pip install 'asyncsgd[ray]')")
    yield from loopback_cluster(tmp_path_factory.mktemp("ray2"))


def serve(temp: str, cpus: int, store_mib: int) -> None:
    """Run the two nodes until standard input closes; print the head's address first."""
    import ray._private.utils
    from ray.cluster_utils import Cluster

    # it would point `ray.init()` of every process of the machine at this cluster (/tmp/ray)
    ray._private.utils.write_ray_address = lambda *args, **kwargs: None
    common = {"num_cpus": cpus, "node_ip_address": LOOPBACK, "object_store_memory": store_mib * 2**20}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            **common,
            "resources": {"shards": cpus},
            "temp_dir": temp,
            "include_dashboard": False,
        },
    )
    try:
        cluster.add_node(**common, resources={"learners": cpus})
        print(cluster.address, flush=True)
        sys.stdin.read()
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
