"""Nothing of a ``ray`` run outlives its driver: SIGKILL ``asyncsgd run`` while its learners run.

The reaper alone (no Ray): when its pipe closes it kills what holds a file in its folder, and
nothing else, and removes the folder.

A private instance (``ray_address`` empty) is ended by its reaper: every process of it (GCS,
raylet, agents, actors) is gone within seconds, and so is its temporary folder. A joined cluster
is not the run's: it keeps running, and Ray ends the dead driver's actors itself.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from asyncsgd.engines.ray.cluster import REAPER
from tests.engines.test_local import descendants, process_exists
from tests.engines.test_local_faults import cli

SETTINGS = ["engine=ray", "learners=2", "dataset=synthetic", "model=logreg", "epochs=0", "updates=100000000"]
GRACE = 3.0
"""Seconds the run's processes may outlive the driver."""


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pids: set[int]) -> dict[int, str]:
    return {pid: cmdline(pid) for pid in pids if process_exists(pid)}


def start_and_kill(out: Path, *settings: str, watch) -> tuple[dict[int, str], float]:
    """Start a run, wait until its learners run, SIGKILL the driver: (the processes ``watch``
    found meanwhile, with their command lines; the time of the kill)."""
    args = [a for s in [*SETTINGS, *settings] for a in ("--set", s)]
    run = cli(*args, "--methods", "downpour", "--out", str(out))
    seen: dict[int, str] = {}

    def look() -> None:
        seen.update({pid: c for pid in watch(run.pid) if (c := cmdline(pid))})

    deadline = time.monotonic() + 120
    try:
        while not any(c.startswith("ray::LearnerActor.run") for c in seen.values()):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the learners did not start"
            look()
            time.sleep(0.05)
        time.sleep(0.5)  # learners running for a while
        look()
    finally:
        run.kill()
    killed = time.monotonic()
    run.communicate(timeout=30)
    return seen, killed


@pytest.mark.slow
def test_a_killed_driver_takes_its_private_instance_along(tmp_path, monkeypatch):
    # Ray's socket paths must stay short: a folder of the test's own for the instance, under /tmp
    with tempfile.TemporaryDirectory(prefix="rt-", dir="/tmp") as base:
        monkeypatch.setenv("RAY_TMPDIR", base)
        seen, killed = start_and_kill(tmp_path / "out", watch=descendants)
        kinds = " ".join(seen.values())
        for kind in (
            "gcs_server",
            "raylet",
            "ray::DashboardAgent",
            "ray::RuntimeEnvAgent",
            "ray::ShardActor",
        ):
            assert kind in kinds  # everything the instance runs was watched
        while (left := alive(set(seen))) and time.monotonic() < killed + GRACE:
            time.sleep(0.05)
        assert left == {}, f"outlived the driver by {GRACE} s: {left}"
        while list(Path(base).iterdir()) and time.monotonic() < killed + GRACE:
            time.sleep(0.05)
        assert list(Path(base).iterdir()) == []  # its folder (Ray's logs, sockets) is gone too


def raylet_of(address: str) -> int:
    """The pid of the raylet of the cluster whose GCS is at ``address``."""
    (pid,) = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and "/raylet/raylet " in (c := cmdline(int(p.name)))
        and f"--gcs-address={address}" in c
    ]
    return pid


@pytest.mark.slow
def test_a_killed_driver_leaves_a_joined_cluster_running_and_ray_ends_its_actors(ray_head, tmp_path):
    raylet = raylet_of(ray_head)
    seen, killed = start_and_kill(
        tmp_path / "out", f"ray_address={ray_head}", watch=lambda _: descendants(raylet)
    )
    actors = {pid for pid, c in seen.items() if c.startswith(("ray::LearnerActor", "ray::ShardActor"))}
    assert len(actors) == 3
    while (left := alive(actors)) and time.monotonic() < killed + GRACE:  # Ray: about 0.2 s
        time.sleep(0.05)
    assert left == {}, f"outlived the driver by {GRACE} s: {left}"
    assert process_exists(raylet)  # the cluster is not the run's to end


def test_the_reaper_kills_what_holds_a_file_in_its_folder_once_its_pipe_closes(tmp_path):
    folder = tmp_path / "instance"
    (folder / "logs").mkdir(parents=True)
    hold = "import sys, time; f = open(sys.argv[1], 'w'); time.sleep(120)"
    inside = subprocess.Popen([sys.executable, "-c", hold, str(folder / "logs" / "worker.out")])
    outside = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path / "elsewhere.out")])
    spared = subprocess.Popen([sys.executable, "-c", hold, str(folder / "driver.log")])  # the driver
    try:
        while not all((p / n).exists() for p, n in [(folder / "logs", "worker.out"), (folder, "driver.log")]):
            time.sleep(0.01)
        reaper = subprocess.Popen([sys.executable, "-I", str(REAPER), str(folder), str(spared.pid)],
                                  stdin=subprocess.PIPE, start_new_session=True)  # fmt: skip
        time.sleep(0.3)
        assert inside.poll() is None and reaper.poll() is None  # nothing happens while the pipe is open
        assert reaper.stdin is not None
        reaper.stdin.close()  # as when the driver ends, or dies
        assert reaper.wait(10) == 0 and inside.wait(5) == -9
        assert outside.poll() is None and spared.poll() is None and not folder.exists()
    finally:
        for p in (inside, outside, spared):
            p.kill()
            p.wait()
