"""Where a ``ray`` run's actors live: a private Ray instance on loopback, or a cluster to join.

Ray is an optional dependency (``pip install 'asyncsgd[ray]'``) and is imported only here, when a
run starts, so the rest of asyncsgd works without it.

* **Private instance** (``ray_address`` empty, the default): ``ray.init`` on this machine, bound to
  127.0.0.1, dashboard and usage reporting off, enough logical CPUs for every actor of the run,
  its files in a fresh folder (``asyncsgd-ray-*`` under ``RAY_TMPDIR``, else the system's
  temporary folder). Ray advertises the machine's network address unless
  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set before it is imported, and the node's address is
  checked after start: a run never listens beyond loopback. A reaper process (:mod:`.reaper`),
  started first, holds a pipe from the driver: when the run ends, or the driver dies however it
  dies, it kills every process of the instance and removes its folder, so nothing of the run
  outlives the driver by more than a moment.
* **Joining** (``ray_address = "host:port"`` or ``"auto"``): a cluster started with ``ray start``.
  The cluster is not the run's to end: when the driver dies, Ray itself ends the run's actors
  (they belong to the driver's job).
  Ray 2.60 protects such clusters with token authentication; the driver joins with
  ``RAY_AUTH_MODE=token`` (unless set otherwise) and the token of ``~/.ray/auth_token``,
  ``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``. A Ray cluster runs arbitrary code for anyone who
  can reach it: keep it on a trusted network.
* **Already connected** (the caller ran ``ray.init``): the run uses that connection and leaves it
  open.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from asyncsgd.errors import ConfigError

LOOPBACK = "127.0.0.1"
INSTALL = "pip install 'asyncsgd[ray]'"
REAPER = Path(__file__).with_name("reaper.py")
REAPER_WAIT = 30.0
"""Seconds the driver waits, at the end of a run, for the reaper to end the private instance."""
FOLDER_PREFIX = "asyncsgd-ray-"


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def ray_environment() -> None:
    """Before Ray is imported (it reads these once): usage reporting off, a local node kept on
    loopback, token authentication on unless the caller chose otherwise."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_AUTH_MODE", "token")


def import_ray() -> ModuleType:
    """The ``ray`` module, or a one-line ConfigError saying how to install it."""
    if not ray_installed():
        raise ConfigError("engine", f"engine 'ray' needs the ray package: {INSTALL}")
    ray_environment()
    return importlib.import_module("ray")


@dataclass
class Cluster:
    """The connection a run uses, and what it found there."""

    address: str
    private: bool
    owned: bool
    nodes: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    """Ray's ids of the live nodes (several nodes of one machine share an address)."""
    resources: dict[str, float] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "private": self.private,
            "nodes": self.nodes,
            "node_ids": self.node_ids,
            "cpus": self.resources.get("CPU", 0.0),
            "gpus": self.resources.get("GPU", 0.0),
        }


def node_addresses(ray: ModuleType) -> list[str]:
    return sorted({n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive", True)})


def reachable(address: str, timeout: float) -> None:
    """Fail fast on a ``host:port`` nothing listens on (joining one would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError("ray_address", f"no Ray cluster answers at {address!r}: {err}") from None


@contextmanager
def reaped_folder() -> Iterator[Path]:
    """A fresh folder for a private instance, and the reaper that ends whatever holds a file in it
    once the driver leaves this block or dies (see :mod:`.reaper`)."""
    base = os.environ.get("RAY_TMPDIR") or None  # where Ray itself would go (else TMPDIR, /tmp)
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=base))
    try:
        reaper = subprocess.Popen(
            [sys.executable, "-I", str(REAPER), str(folder), str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield folder
    finally:
        assert reaper.stdin is not None
        reaper.stdin.close()
        try:
            reaper.wait(REAPER_WAIT)
        except subprocess.TimeoutExpired:  # pragma: no cover (it gives up after 10 s)
            reaper.kill()
            reaper.wait()
        shutil.rmtree(folder, ignore_errors=True)


SIGNALS = (signal.SIGTERM, signal.SIGINT)


def signal_handlers() -> dict[int, Any]:
    """The handlers ``ray.init`` would replace (SIGTERM: it makes it exit the process, which would
    cut a run's graceful stop short and change a library user's process for good)."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # handlers are set (by Ray too) only from the main thread
    return {s: signal.getsignal(s) for s in SIGNALS}


def put_back(handlers: dict[int, Any]) -> None:
    for s, handler in handlers.items():
        if handler is not None:
            signal.signal(s, handler)


@contextmanager
def connect(address: str, cpus: float, timeout: float) -> Iterator[Cluster]:
    """Connect for one run (see the module docstring); ``cpus``: logical CPUs a private instance
    offers (the run's actors reserve that many; more than the machine's cores oversubscribes it,
    as p learner processes of the ``local`` engine do)."""
    ray = import_ray()
    with ExitStack() as stack:  # unwinds in reverse: ray.shutdown, the handlers, the reaper
        handlers = signal_handlers()
        stack.callback(put_back, handlers)
        if ray.is_initialized():
            cluster = Cluster(ray.get_runtime_context().gcs_address, False, owned=False)
        elif address:
            reachable(address, timeout)
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                message = f"cannot join the Ray cluster at {address!r}: {err}"
                raise ConfigError("ray_address", message) from None
            cluster = Cluster(address, False, owned=True)
        else:
            folder = stack.enter_context(reaped_folder())
            ray.init(
                address="local",  # a new instance, even where a `ray start` cluster runs on this machine
                num_cpus=max(os.cpu_count() or 1, int(-(-cpus // 1))),
                include_dashboard=False,
                _node_ip_address=LOOPBACK,
                _temp_dir=str(folder),
                log_to_driver=False,
                configure_logging=False,
            )
            cluster = Cluster(ray.get_runtime_context().gcs_address, True, owned=True)
        put_back(handlers)  # at once: the run's own stop (graceful_stop) must keep working
        if cluster.owned:
            stack.callback(ray.shutdown)
        cluster.nodes = node_addresses(ray)
        cluster.node_ids = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive", True))
        cluster.resources = dict(ray.cluster_resources())
        if cluster.private and cluster.nodes != [LOOPBACK]:
            raise RuntimeError(f"the private Ray instance left loopback: its nodes are {cluster.nodes}")
        yield cluster
