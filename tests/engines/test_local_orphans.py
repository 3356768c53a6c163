"""Nothing of a ``local`` run outlives its driver by more than a moment, however the driver dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.engines.test_local import descendants, process_exists

CONFIG = """
name = "orphans"
engine = "local"
dataset = "synthetic"
model = "mlp"
hidden = [16]
learners = 3
updates = 10000000
eval_every = 10000000
timeout = 60
[[methods]]
name = "run"
"""


@pytest.mark.slow
def test_nothing_outlives_a_driver_killed_outright(tmp_path):
    (tmp_path / "exp.toml").write_text(CONFIG)
    scratch = tmp_path / "tmp"  # the driver's temporary directories go here
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(scratch)}
    args = ["run", str(tmp_path / "exp.toml"), "--out", str(tmp_path / "out"), "--quiet"]
    driver = subprocess.Popen([sys.executable, "-m", "asyncsgd.cli.main", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(pids) < 3 + 2:  # the learners, the forkserver and the resource tracker
            assert driver.poll() is None, driver.communicate()[1]
            assert time.monotonic() < deadline, "the learners did not start"
            pids |= descendants(driver.pid)
            time.sleep(0.05)
        time.sleep(1.0)  # training
        pids |= descendants(driver.pid)
        assert [p for p in pids if process_exists(p)] and list(scratch.glob("pymp-*"))
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        killed = time.monotonic()
        left = lambda: [p for p in pids if process_exists(p)] or list(scratch.iterdir())  # noqa: E731
        while left() and time.monotonic() - killed < 2.0:
            time.sleep(0.02)
        assert [p for p in pids if process_exists(p)] == [], "processes of the run outlived its driver"
        assert list(scratch.iterdir()) == [], "the driver's temporary directory was left behind"
    finally:
        for pid in pids:
            if process_exists(pid):
                os.kill(pid, signal.SIGKILL)


def run_local_forever() -> None:
    """A sweep worker's part: a local run in a process spawned from the test (it inherits the test
    process's multiprocessing temporary directory, as a sweep's workers inherit the sweep's)."""
    from asyncsgd.config.files import build_experiment
    from asyncsgd.experiment.runner import run_experiment

    doc = {"engine": "local", "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 2,
           "updates": 10**7, "eval_every": 10**7}  # fmt: skip
    run_experiment(build_experiment(doc), None)


@pytest.mark.slow
def test_a_killed_worker_leaves_the_temporary_directory_it_shares_with_its_parent():
    """The forkserver of a killed driver removes the directory only if that driver made it: here it
    is the parent's, and the parent (and its other workers) still need it."""
    import multiprocessing as mp
    from multiprocessing import util

    shared = util.get_temp_dir()  # made by this process before the worker is spawned
    worker = mp.get_context("spawn").Process(target=run_local_forever)  # not daemonic: it starts learners
    worker.start()
    pids: set[int] = set()
    deadline = time.monotonic() + 120
    while len(pids) < 2 + 1:  # the learners and the forkserver (the worker's children)
        assert worker.is_alive() and time.monotonic() < deadline, "the worker's learners did not start"
        pids |= descendants(worker.pid)
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    killed = time.monotonic()
    while [p for p in pids if process_exists(p)] and time.monotonic() - killed < 5.0:
        time.sleep(0.02)
    assert [p for p in pids if process_exists(p)] == [], "the worker's processes outlived it"
    assert os.path.isdir(shared), "a worker's forkserver removed its parent's temporary directory"
