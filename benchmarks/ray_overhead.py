"""The ``ray`` engine against the plain Ray actor where they are close, with a confidence interval.

On a shared 2-core machine two runs of one case differ by up to ×2, so a ratio of two medians of
a few runs has no firm sign near 1. Here each case is run as pairs, the engine and the plain actor
one right after the other (in alternating order, so neither always runs on the warmer machine),
and the ratio is taken within each pair: its geometric mean over the pairs, with a 95% interval
from Student's t over the pairs' log ratios, says whether the engine is measurably slower (or
faster) than the plain actor.

The engine is run as in ``benchmarks.ray_engine`` (learners push a prepared payload, S = 1), the
plain actor is ``benchmarks.ray_baseline``; the engine's own breakdown gives the µs per push of
the shard's core ``apply`` and of the learner's ``pull`` bookkeeping, for where the time goes.

    python -m benchmarks.ray_overhead
"""

from __future__ import annotations

import os
import statistics

from benchmarks.common import interval, write_result
from benchmarks.ray_baseline import baseline_rate, ray_session
from benchmarks.ray_engine import SECONDS, WARMUP, engine_run

CASES = (
    (10**5, 2, "top1%"), (10**6, 1, "dense"), (10**6, 2, "dense"), (10**6, 4, "dense"),
    (10**6, 2, "top1%"), (10**7, 2, "dense"), (10**7, 1, "top1%"),
)  # fmt: skip
"""Every case where the engine was below the plain actor, or less than 10% above it, in the run of
``benchmarks.ray_engine`` of 2026-12-03 (two repeats each, medians)."""
PAIRS = int(os.environ.get("RAY_OVERHEAD_PAIRS", 8))


def main() -> dict:
    load = os.getloadavg()[0]
    rows = []
    with ray_session(max(p for _, p, _ in CASES) + 2) as ray:
        for n, p, payload in CASES:
            engine, plain, apply_us, pull_us = [], [], [], []
            for i in range(PAIRS):
                for side in ("engine", "plain") if i % 2 == 0 else ("plain", "engine"):
                    if side == "plain":
                        plain.append(baseline_rate(ray, n, p, payload, SECONDS, WARMUP))
                        continue
                    run = engine_run(n, p, 1, payload)
                    engine.append(run.rate())
                    phases = run.phase_us()
                    apply_us.append(phases["apply"])
                    pull_us.append(phases["pull"])
            mean, low, high = interval([e / b for e, b in zip(engine, plain, strict=True)])
            rows.append({
                "parameters": n, "learners": p, "payload": payload, "pairs": PAIRS,
                "engine_per_s": engine, "plain_per_s": plain, "ratio": mean, "ratio_95": [low, high],
                "apply_us": statistics.median(apply_us), "pull_us": statistics.median(pull_us),
            })  # fmt: skip
            print(f"n={n:>9,} p={p} {payload:6s} engine / plain ×{mean:.2f} (95%: ×{low:.2f} to ×{high:.2f})",
                  flush=True)  # fmt: skip
    result = {
        "seconds": SECONDS,
        "warmup": WARMUP,
        "load_average": [load, os.getloadavg()[0]],
        "rows": rows,
    }
    write_result("ray_overhead", result)
    return result


if __name__ == "__main__":
    main()
