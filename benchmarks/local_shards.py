"""Does a second shard pay on one machine? The ``local`` engine's round trip with S = 2 against S = 1.

The round trip of ``benchmarks.ps_roundtrip`` (pull the dense parameters, push a dense or a
top-1% payload, apply), at 10^7 float32 parameters, p = 1, 2, 4 learner processes, with the server
in one shard and in two. With two, a learner locks, copies and applies shard by shard, so two
learners can work on different shards at once, and a push is first checked whole (a push is
applied by every shard or by none). S = 1 and S = 2 run in pairs, one right after the other in
alternating order, ``PAIRS`` pairs a case; ``s2_vs_s1`` is the geometric mean of the pairs'
ratios with its 95% interval.

    python -m benchmarks.local_shards
"""

from __future__ import annotations

import os
import statistics

from benchmarks.common import interval, write_result
from benchmarks.ps_roundtrip import PAYLOADS, WARMUP, ours

SIZE = 10**7
LEARNERS = (1, 2, 4)
PAIRS = int(os.environ.get("LOCAL_SHARDS_PAIRS", 4))
SECONDS = float(os.environ.get("LOCAL_SHARDS_SECONDS", 1.8))


def main() -> dict:
    load = os.getloadavg()[0]
    rows = []
    for p in LEARNERS:
        for payload in PAYLOADS:
            got: dict[int, list[float]] = {1: [], 2: []}
            for i in range(PAIRS):
                for shards in (1, 2) if i % 2 == 0 else (2, 1):
                    got[shards].append(ours(SIZE, p, payload, seconds=SECONDS, shards=shards))
            ratio, low, high = interval([b / a for a, b in zip(got[1], got[2], strict=True)])
            rows.append({
                "parameters": SIZE, "learners": p, "payload": payload, "s1_per_s": statistics.median(got[1]),
                "s2_per_s": statistics.median(got[2]), "s2_vs_s1": ratio, "s2_vs_s1_95": [low, high],
                "samples": got,
            })  # fmt: skip
            print(f"p={p} {payload:6s} S=1 {rows[-1]['s1_per_s']:7.1f}/s  S=2 {rows[-1]['s2_per_s']:7.1f}/s  "
                  f"×{ratio:.2f} (95%: ×{low:.2f} to ×{high:.2f})", flush=True)  # fmt: skip
    result = {
        "pairs": PAIRS, "seconds": SECONDS, "warmup": WARMUP, "rows": rows,
        "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip
    write_result("local_shards", result)
    return result


if __name__ == "__main__":
    main()
