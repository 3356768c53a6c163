"""The ``ray`` engine with learners and shards on different Ray nodes against all on one node.

A two-node Ray cluster on loopback (``tests.raycluster``: Ray's own cluster utilities, two
raylets with an object store each, on this one machine): the head offers the custom resource
``shards``, the other node ``learners``. The engine runs p = 2 learners and S = 1 shard at 10^5
and 10^7 float32 parameters, dense pushes, learners whose gradient is made once (no model compute
is timed; ``benchmarks.ray_engine``'s prepared learners), placed

* **split**: learners on the ``learners`` node, the shard on the ``shards`` node
  (``ray_learner_resources = "learners:1"``, ``ray_shard_resources = "shards:1"``): every push
  and every pulled copy crosses from one object store to the other (over loopback TCP here; over
  the network on a real cluster);
* **one node**: learners and shard on the ``shards`` node (both settings ``"shards:1"``).

Updates/s after ``WARMUP`` seconds, over ``SECONDS`` (``RAY_BENCH_SECONDS``), ``REPEATS`` times
(``RAY_MN_REPEATS``), the two placements alternating; medians reported. On one machine the
nodes share its cores and memory, so the ratio shows the cost of the path between nodes (Ray's
object transfer between two stores), not a network.

    python -m benchmarks.ray_multinode
"""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result
from benchmarks.ray_engine import SECONDS, WARMUP, Timed, make_job, prepared

SIZES = (10**5, 10**7)
LEARNERS = 2
REPEATS = int(os.environ.get("RAY_MN_REPEATS", 3))
PLACEMENTS = {
    "split": {"ray_learner_resources": "learners:1", "ray_shard_resources": "shards:1"},
    "one_node": {"ray_learner_resources": "shards:1", "ray_shard_resources": "shards:1"},
}
STORE_MIB = 600
"""Each node's object store (a 10^7 run holds several 40 MB copies at once)."""


def rate(address: str, size: int, placement: str) -> tuple[float, set[str]]:
    """Updates/s of one run, and the nodes its learners and shard ran on."""
    from asyncsgd.engines.ray import RayEngine

    job = make_job(size, LEARNERS, 1, "dense")
    job = dataclasses.replace(job, config=job.config.replace(ray_address=address, **PLACEMENTS[placement]))
    recorder = Timed(job)
    result = RayEngine(learner_factory=functools.partial(prepared)).run(job, recorder)
    recorder.close()
    actors = result.extra["actors"]
    nodes = {a["node_id"] for a in [*actors["learners"], *actors["shards"]] if "node_id" in a}
    return recorder.rate(), nodes


def main() -> None:
    from tests.raycluster import loopback_cluster

    start = time.perf_counter()
    got: dict[tuple[int, str], list[float]] = {(n, p): [] for n in SIZES for p in PLACEMENTS}
    nodes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="asyncsgd-bench-") as tmp:
        cluster = loopback_cluster(Path(tmp), store_mib=STORE_MIB)
        address = next(cluster).address
        try:
            for r in range(REPEATS):
                for n in SIZES:
                    order = list(PLACEMENTS) if r % 2 == 0 else list(reversed(PLACEMENTS))
                    for placement in order:
                        per_s, used = rate(address, n, placement)
                        got[(n, placement)].append(per_s)
                        nodes[placement] = len(used)
                        print(f"repeat {r + 1}: 10^{len(str(n)) - 1} {placement:8s} {per_s:8.1f} updates/s",
                              flush=True)  # fmt: skip
        finally:
            next(cluster, None)
    rows = []
    for n in SIZES:
        split, one = (statistics.median(got[(n, p)]) for p in ("split", "one_node"))
        rows.append({"parameters": n, "split_per_s": split, "one_node_per_s": one,
                     "split_vs_one": split / one, "split_samples": got[(n, "split")],
                     "one_node_samples": got[(n, "one_node")]})  # fmt: skip
    for row in rows:
        print(f"{row['parameters']:>10,d} params: split {row['split_per_s']:8.1f}/s, one node "
              f"{row['one_node_per_s']:8.1f}/s, split/one {row['split_vs_one']:.2f}")  # fmt: skip
    seconds = time.perf_counter() - start
    print(f"nodes used: {nodes}; {seconds:.0f} s")
    payload = {"learners": LEARNERS, "shards": 1, "repeats": REPEATS, "seconds": SECONDS, "warmup": WARMUP,
               "nodes_used": nodes, "rows": rows, "wall_s": seconds}  # fmt: skip
    print(write_result("ray_multinode", payload))


if __name__ == "__main__":
    main()
