"""What a Ray actor call costs by the size of its answer: inside the call's message, through the
object store, or cut into chunks that each travel inside the message.

Round trips per second of one learner actor calling one actor that answers with a float32 array
of each size (the call's own argument: 8 KiB), in one Ray instance on loopback. Ray sends objects
under 100 KiB inside the call's message and puts larger ones into the object store. An answer
over 100 KiB can also come back as several return values of under 100 KiB each (the ``chunks``
column: ``asyncsgd.engines.ray.wire.chunks``, as the ``ray`` engine cuts answers and payloads of
up to ``INLINE_LIMIT`` bytes). This is why the engine's shards answer with only the changed
coordinates when those fit in the message, whole or in chunks (``MAX_CHANGES`` in
``asyncsgd.engines.ray.shard``), and why mid-sized answers travel in chunks.

    python -m benchmarks.ray_transport
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from asyncsgd.engines.ray.wire import INLINE_BYTES, chunk_count, chunks, unchunk
from benchmarks.common import write_result
from benchmarks.ray_baseline import ray_session

SIZES = (8 * 1024, 64 * 1024, 400_000, 800_000, 4_000_000)
"""Bytes of the answer: two inline sizes, 10^5, 2·10^5 and 10^6 float32 parameters."""
SECONDS = 2.0
REPEATS = 3


class Answerer:
    def __init__(self) -> None:
        self.arrays = {n: np.zeros(n // 4, np.float32) for n in SIZES}

    def call(self, arg: np.ndarray, nbytes: int) -> np.ndarray:
        return self.arrays[nbytes]

    def call_chunks(self, arg: np.ndarray, nbytes: int) -> tuple[bytes, ...]:
        return tuple(chunks(self.arrays[nbytes]))


class Caller:
    def run(self, answerer, nbytes: int, seconds: float, chunked: bool) -> float:
        import ray

        arg = np.zeros(2048, np.float32)
        if chunked:
            method = answerer.call_chunks.options(num_returns=chunk_count(nbytes // 4))
            call = lambda: unchunk(ray.get(method.remote(arg, nbytes)), np.float32)  # noqa: E731
        else:
            call = lambda: ray.get(answerer.call.remote(arg, nbytes))  # noqa: E731
        for _ in range(50):  # warm: first transfers, the object store's first pages
            call()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            call()
            n += 1
        return n / (time.perf_counter() - start)


def main() -> dict:
    load = os.getloadavg()[0]
    cases = [(n, False) for n in SIZES] + [(n, True) for n in SIZES if n > INLINE_BYTES]
    samples: dict[tuple[int, bool], list[float]] = {c: [] for c in cases}
    with ray_session(2) as ray:
        answerer = ray.remote(num_cpus=0)(Answerer).remote()
        caller = ray.remote(num_cpus=0)(Caller).remote()
        for _ in range(REPEATS):  # cases interleaved: drift hits them alike
            for n, chunked in cases:
                samples[(n, chunked)].append(ray.get(caller.run.remote(answerer, n, SECONDS, chunked)))
        rows = []
        for n in SIZES:
            rate = statistics.median(samples[(n, False)])
            row = {"answer_bytes": n, "calls_per_s": rate, "ms_per_call": 1e3 / rate,
                   "spread": [min(samples[(n, False)]), max(samples[(n, False)])]}  # fmt: skip
            shown = ""
            if (n, True) in samples:
                got = samples[(n, True)]
                row["chunks"] = chunk_count(n // 4)
                row["chunked_calls_per_s"] = statistics.median(got)
                row["chunked_ms_per_call"] = 1e3 / statistics.median(got)
                row["chunked_spread"] = [min(got), max(got)]
                shown = f"  in {row['chunks']} chunks: {row['chunked_ms_per_call']:.2f} ms"
            rows.append(row)
            print(f"answer {n:>9,} B: {rate:7.1f} calls/s ({1e3 / rate:.2f} ms){shown}", flush=True)
    loads = [load, os.getloadavg()[0]]
    result = {"repeats": REPEATS, "seconds": SECONDS, "load_average": loads, "rows": rows}
    write_result("ray_transport", result)
    return result


if __name__ == "__main__":
    main()
