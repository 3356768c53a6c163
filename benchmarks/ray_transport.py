"""What a Ray actor call costs by the size of its answer: inside the call's message, or through the
object store.

Round trips per second of one learner actor calling one actor that answers with a float32 array
of each size (the call's own argument: 8 KiB), in one Ray instance on loopback. Ray sends objects
under 100 KiB inside the call's message and puts larger ones into the object store; the ``ray``
engine's shards answer with only the changed coordinates when those fit in the message
(``INLINE_CHANGES`` in ``asyncsgd.engines.ray.shard``), and this is why.

    python -m benchmarks.ray_transport
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks.common import write_result
from benchmarks.ray_baseline import ray_session

SIZES = (8 * 1024, 64 * 1024, 400_000, 4_000_000)
"""Bytes of the answer: two inline sizes, 10^5 and 10^6 float32 parameters."""
SECONDS = 2.0
REPEATS = 3


class Answerer:
    def __init__(self) -> None:
        self.arrays = {n: np.zeros(n // 4, np.float32) for n in SIZES}

    def call(self, arg: np.ndarray, nbytes: int) -> np.ndarray:
        return self.arrays[nbytes]


class Caller:
    def run(self, answerer, nbytes: int, seconds: float) -> float:
        import ray

        arg = np.zeros(2048, np.float32)
        for _ in range(50):  # warm: first transfers, the object store's first pages
            ray.get(answerer.call.remote(arg, nbytes))
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            ray.get(answerer.call.remote(arg, nbytes))
            n += 1
        return n / (time.perf_counter() - start)


def main() -> dict:
    load = os.getloadavg()[0]
    samples: dict[int, list[float]] = {n: [] for n in SIZES}
    with ray_session(2) as ray:
        answerer = ray.remote(num_cpus=0)(Answerer).remote()
        caller = ray.remote(num_cpus=0)(Caller).remote()
        for _ in range(REPEATS):  # sizes interleaved: drift hits them alike
            for n in SIZES:
                samples[n].append(ray.get(caller.run.remote(answerer, n, SECONDS)))
        rows = []
        for n in SIZES:
            rate = statistics.median(samples[n])
            rows.append({"answer_bytes": n, "calls_per_s": rate, "ms_per_call": 1e3 / rate,
                         "spread": [min(samples[n]), max(samples[n])]})  # fmt: skip
            print(f"answer {n:>9,} B: {rate:7.1f} calls/s ({1e3 / rate:.2f} ms)", flush=True)
    loads = [load, os.getloadavg()[0]]
    result = {"repeats": REPEATS, "seconds": SECONDS, "load_average": loads, "rows": rows}
    write_result("ray_transport", result)
    return result


if __name__ == "__main__":
    main()
