"""A parameter server written as a plain Ray actor, the usual way: the baseline of the Ray benches.

Each learner actor calls ``apply_gradients`` (or ``apply_sparse`` with a top-1% payload) on the
server actor and gets the weights back, in a loop, for a fixed time. Used by
``benchmarks.ps_roundtrip`` (against the ``local`` engine) and ``benchmarks.ray_engine`` (against
the ``ray`` engine), always inside a Ray instance on loopback (:func:`ray_session`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

LR = 1e-6


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
    def run(self, ps, size: int, payload: str, seconds: float, seed: int, warmup: float = 0.0) -> float:
        """Round trips per second over ``seconds``, after ``warmup`` seconds left out."""
        import ray

        rng = np.random.default_rng(seed)
        grad = rng.standard_normal(size).astype(np.float32)
        k = max(1, size // 100)
        idx = np.sort(np.argpartition(np.abs(grad), size - k)[size - k :]).astype(np.int32)
        vals = grad[idx]

        def round_trip() -> None:
            if payload == "dense":
                w = ray.get(ps.apply_gradients.remote(grad))
            else:
                w = ray.get(ps.apply_sparse.remote(vals, idx))
            assert w.shape == (size,)

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
    measured over ``seconds`` after ``warmup`` seconds of round trips left out."""
    ps = ray.remote(num_cpus=0)(RayPS).remote(size)
    learners = [ray.remote(num_cpus=0)(RayLearner).remote() for _ in range(p)]
    try:
        calls = [lr.run.remote(ps, size, payload, seconds, s, warmup) for s, lr in enumerate(learners)]
        rates = ray.get(calls)
        return float(sum(rates))
    finally:
        for actor in [ps, *learners]:
            ray.kill(actor)
