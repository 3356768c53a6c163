"""The server's sparse apply: ``index_add_`` against ``scatter_add_``, which ``Update.add_to`` picks by size.

A top-1% push into p parameters adds k = p/100 scaled values at sorted scattered coordinates
(``x[i] += a·v`` for each). Two ways in torch, both adding ``a·v`` rounded to float32 in index
order (bit-identical results, checked here on every case):

* ``index_add_(0, idx, v, alpha=a)``, over the int32 indices as they arrive;
* ``scatter_add_(0, idx.long(), v * a)``: an int64 copy of the indices and a scaled copy of the
  values first.

Each call starts with the caches flushed of the target (a pass over 64 MB), as when a push
arrives between other work; one thread; the two are interleaved, medians of ``REPEATS``. The
sizes bracket ``SCATTER_MIN`` (2^14 coordinates), where ``add_to`` switches.

    python -m benchmarks.sparse_apply
"""

from __future__ import annotations

import os

import numpy as np
import torch

from asyncsgd.vocabulary.messages import SCATTER_MIN
from benchmarks.common import interleaved_us, write_result

SIZES = (10**5, 4 * 10**5, 8 * 10**5, 100 * 2**14, 10**7)
RATIO = 0.01  # top-1%: SIZES bracket SCATTER_MIN at 100 × 2^14
REPEATS = int(os.environ.get("SPARSE_REPEATS", 41))
ALPHA = -1e-3


def case(size: int) -> dict[str, float]:
    k = int(size * RATIO)
    rng = np.random.default_rng(size)
    idx = torch.from_numpy(np.sort(rng.choice(size, k, replace=False)).astype(np.int32))
    values = torch.from_numpy(rng.standard_normal(k).astype(np.float32))
    a, b = torch.zeros(size), torch.zeros(size)
    flush = torch.ones(16 * 2**20)
    ways = {
        "index_add": lambda: a.index_add_(0, idx, values, alpha=ALPHA),
        "scatter_add": lambda: b.scatter_add_(0, idx.long(), values * ALPHA),
    }
    med = interleaved_us(ways, REPEATS, before=flush.sum)
    if not torch.equal(a, b):
        raise AssertionError(f"index_add_ and scatter_add_ disagree at {size} parameters")
    return {
        "parameters": size, "coordinates": k, "index_add_us": med["index_add"],
        "scatter_add_us": med["scatter_add"], "ratio": med["scatter_add"] / med["index_add"],
        "add_to_uses": "scatter_add" if k >= SCATTER_MIN else "index_add",
    }  # fmt: skip


def main() -> dict:
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    rows = []
    for size in SIZES:
        row = case(size)
        rows.append(row)
        print(f"p={size:>10,} k={row['coordinates']:>7,}  index_add_ {row['index_add_us']:8.1f} µs  "
              f"scatter_add_ {row['scatter_add_us']:8.1f} µs  ×{row['ratio']:.2f}", flush=True)  # fmt: skip
    result = {
        "ratio": RATIO, "repeats": REPEATS, "scatter_min": SCATTER_MIN, "rows": rows,
        "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip
    write_result("sparse_apply", result)
    return result


if __name__ == "__main__":
    main()
