"""One Ray cluster for every ``ray`` engine test: a head node on loopback, started once per session.

The head runs as ``ray start --head --block`` in its own process session, bound to 127.0.0.1 with
token authentication on; each test's run joins it with ``ray_address`` and disconnects at its end,
so between runs the test process holds no Ray connection (and maps none of Ray's shared memory,
which the ``local`` engine's tests check for). The conformance battery alone holds one connection
for its whole module, which its ``ray`` runs use and leave open. At the end of the session the
head is stopped and no process of its session may survive.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncsgd.engines.ray.cluster import LOOPBACK, ray_installed
from asyncsgd.engines.ray.cluster import ray_environment as cluster_environment

HEAD_CPUS = 8  # logical CPUs: p = 4 learners and 2 shards fit, on any machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes of process session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def process_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ray_environment() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_AUTH_MODE": "token"}  # fmt: skip


def private_token(folder: Path) -> Path:
    """A fresh authentication token for the test cluster, so a fresh machine (no ~/.ray/auth_token)
    needs nothing set up by hand and a developer's own token is never read or written."""
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    return token


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory):
    """Address of a loopback Ray head node for the session's ``ray`` runs."""
    if not ray_installed():
        pytest.skip("the ray extra is not installed (pip install 'asyncsgd[ray]')")
    cluster_environment()  # before anything imports Ray in this process
    port = free_port()
    folder = tmp_path_factory.mktemp("ray-head")
    log = folder / "head.log"
    saved = os.environ.get("RAY_AUTH_TOKEN_PATH")
    # the head and every run of this process (which joins it) read the same token
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(private_token(folder))
    ray_cli = Path(sys.executable).with_name("ray")
    with log.open("w") as out:
        head = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", f"--node-ip-address={LOOPBACK}", f"--port={port}",
             "--include-dashboard=false", f"--num-cpus={HEAD_CPUS}", "--num-gpus=0", "--disable-usage-stats"],
            env=ray_environment(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "ray head did not start"
            time.sleep(0.1)
        yield f"{LOOPBACK}:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)
        if saved is None:
            os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        else:
            os.environ["RAY_AUTH_TOKEN_PATH"] = saved
    deadline = time.monotonic() + 30
    while session_processes(head.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(head.pid) == [], "processes of the Ray head outlived it"


def wait_gone(pids: list[int], seconds: float = 20.0) -> list[int]:
    """The pids still alive after waiting up to ``seconds`` for them to exit."""
    deadline = time.monotonic() + seconds
    while (alive := [p for p in pids if process_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def actor_pids(extra: dict) -> list[int]:
    actors = extra["actors"]
    return [a["pid"] for a in [*actors["learners"], *actors["shards"]] if "pid" in a]
