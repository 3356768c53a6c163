"""A parameter server written as a plain Ray actor, the usual way: the baseline of the Ray benches.

Each learner actor calls ``apply_gradients`` (or ``apply_sparse`` with a top-1% payload) on the
server actor and gets the weights back, in a loop, for a fixed time. The learners start together,
once every learner's process is up and its payload made, so their measured windows coincide and
their rates add up to the server's: started as their processes come up, a second or more apart
on two cores, the first ones would measure partly alone, against fewer learners, and the sum
would overstate the server's rate.

Used by ``benchmarks.ps_roundtrip`` (against the ``local`` engine) and ``benchmarks.ray_engine``
(against the ``ray`` engine), always inside a Ray instance on loopback (:func:`ray_session`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

LR = 1e-6
START_MARGIN = 0.2  # seconds from the start signal to the common start: time for the calls to arrive


class RayPS:
    def __init__(self, size: int) -> None:
        self.w = np.zeros(size, np.float32)

    def apply_gradients(self, grad: np.ndarray) -> np.ndarray:
        self.w -= LR * grad
        return self.w

    def apply_sparse(self, values: np.ndarray, indices: np.ndarray) -> np.ndarray:
        self.w[indices] -= LR * values
        return self.w


class RayLearner:
    def prepare(self, size: int, payload: str, seed: int) -> None:
        """Make the payload this learner pushes every round trip (a dense gradient or its top 1%)."""
        grad = np.random.default_rng(seed).standard_normal(size).astype(np.float32)
        k = max(1, size // 100)
        idx = np.sort(np.argpartition(np.abs(grad), size - k)[size - k :]).astype(np.int32)
        self.size, self.args = size, (grad,) if payload == "dense" else (grad[idx], idx)

    def run(self, ps, seconds: float, warmup: float, start_at: float) -> float:
        """Round trips per second over ``seconds``, after ``warmup`` seconds left out, from wall
        clock time ``start_at`` on."""
        import ray

        method = ps.apply_gradients if len(self.args) == 1 else ps.apply_sparse

        def round_trip() -> None:
            w = ray.get(method.remote(*self.args))
            assert w.shape == (self.size,)

        time.sleep(max(0.0, start_at - time.time()))
        warm_until = time.perf_counter() + warmup
        while time.perf_counter() < warm_until:
            round_trip()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            round_trip()
            n += 1
        return n / (time.perf_counter() - start)


@contextmanager
def ray_session(cpus: int) -> Iterator[object]:
    """A private Ray instance on loopback (dashboard and usage reporting off) for one bench."""
    from asyncsgd.engines.ray.cluster import LOOPBACK, import_ray

    ray = import_ray()  # sets the environment Ray must see before it is imported
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address=LOOPBACK,
             log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
        assert addresses == {LOOPBACK}, f"Ray left loopback: {addresses}"
        yield ray
    finally:
        ray.shutdown()


def baseline_rate(ray, size: int, p: int, payload: str, seconds: float, warmup: float = 0.0) -> float:
    """Updates/s of ``p`` learner actors against one :class:`RayPS` actor (inside a session),
    measured over ``seconds`` after ``warmup`` seconds of round trips left out, all learners at once."""
    ps = ray.remote(num_cpus=0)(RayPS).remote(size)
    learners = [ray.remote(num_cpus=0)(RayLearner).remote() for _ in range(p)]
    try:
        # every learner's process up and payload made (a server still starting holds all alike)
        ray.get([lr.prepare.remote(size, payload, seed) for seed, lr in enumerate(learners)])
        start = time.time() + START_MARGIN
        calls = [lr.run.remote(ps, seconds, warmup, start) for lr in learners]
        rates = ray.get(calls)
        return float(sum(rates))
    finally:
        for actor in [ps, *learners]:
            ray.kill(actor)
