"""What a sharded server does to a push before applying it: check it whole, then find each
shard's part.

With S shards a push is applied by every shard or by none, so it is first checked whole, NaN and
Inf included (``ParameterServer.non_finite``), and every shard then applies only the
coordinates of the push that fall inside it. One thread, medians of ``REPEATS`` interleaved calls.

**finite_check**, for a float32 array of 10^5 to 10^7 values: ``torch.isfinite(a).all()`` (exact;
it allocates a mask) against ``torch.dot(a, a)`` (a single pass, non-finite whenever any value
is), which ``non_finite`` reads first, leaving the exact check to arrays whose dot is not finite.

**rows**, a top-1% push, per push and for all S shards together:

* **torch mask** (the baseline: what a shard did before): the whole payload decoded, then
  ``keep = (idx >= start) & (idx < stop)`` and ``values[keep]``, ``idx[keep] - start`` in torch;
* **SliceCodec** (``local``: every shard is handed the whole push): ``asyncsgd.core.shards``
  checks that the indices never decrease and finds the shard's range by binary search; the
  values are a view, only the re-based indices are copied;
* **SliceCodec, shuffled**: the same payload in random order, where it takes the positions of
  the shard's entries instead (``np.flatnonzero`` of a mask, then those positions);
* **cut + part** (``ray``: the learner cuts the push, each shard is sent its part): the learner's
  ``cut`` and the shard's decode of its part.

All four give the same update for every shard (checked on every case).

    python -m benchmarks.shard_decode
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch

from asyncsgd.codecs import make_codec
from asyncsgd.codecs.base import Codec
from asyncsgd.core.shards import ShardPlan, SliceCodec, cut, part_codec
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.messages import Payload, Update
from benchmarks.common import interleaved_us, write_result

SIZES = (10**6, 10**7)
SHARDS = (2, 4)
RATIO = 0.01
REPEATS = int(os.environ.get("SHARD_DECODE_REPEATS", 41))


def torch_mask(payload: Payload, codec: Codec, start: int, stop: int) -> Update:
    update = codec.decode(payload)
    idx = update.indices
    keep = (idx >= start) & (idx < stop)
    return Update(update.values[keep], stop - start, indices=idx[keep] - start)


def case(size: int, shards: int) -> dict:
    codec = make_codec("topk", FlatLayout.single(size), ratio=RATIO)
    grad = torch.from_numpy(np.random.default_rng(size).standard_normal(size).astype(np.float32))
    payload = codec.encode(grad, 0)
    order = torch.from_numpy(np.random.default_rng(1).permutation(codec.k))
    shuffled = Payload(payload.codec, {k: v[order].contiguous() for k, v in payload.arrays.items()})
    plan = list(ShardPlan(size, shards))
    slices = [SliceCodec(codec, a, b) for a, b in plan]
    parts = [part_codec(codec, a, b) for a, b in plan]
    ways: dict[str, Callable[[], list[Update]]] = {
        "torch_mask": lambda: [torch_mask(payload, codec, a, b) for a, b in plan],
        "slice_codec": lambda: [s.decode(payload) for s in slices],
        "slice_codec_shuffled": lambda: [s.decode(shuffled) for s in slices],
        "cut_and_part": lambda: [
            s.decode(cut(codec, payload, a, b)) for s, (a, b) in zip(parts, plan, strict=True)
        ],
    }
    reference = [u.dense() for u in ways["torch_mask"]()]
    for name, way in ways.items():
        if not all(torch.equal(u.dense(), r) for u, r in zip(way(), reference, strict=True)):
            raise AssertionError(f"{name} decodes another update at {size} parameters, {shards} shards")
    us = interleaved_us(ways, REPEATS)
    return {
        "parameters": size, "shards": shards, "coordinates": codec.k, **{f"{k}_us": v for k, v in us.items()},
        "vs_torch_mask": {k: us["torch_mask"] / v for k, v in us.items() if k != "torch_mask"},
    }  # fmt: skip


def finite_check(size: int) -> dict:
    a = torch.from_numpy(np.random.default_rng(size).standard_normal(size).astype(np.float32))
    ways: dict[str, Callable[[], bool]] = {
        "isfinite": lambda: bool(torch.isfinite(a).all()),
        "dot": lambda: math.isfinite(float(torch.dot(a, a))),
    }
    for name, way in ways.items():
        if not way():
            raise AssertionError(f"{name} finds a finite array non-finite")
    us = interleaved_us(ways, REPEATS)
    return {
        "values": size,
        "isfinite_us": us["isfinite"],
        "dot_us": us["dot"],
        "ratio": us["isfinite"] / us["dot"],
    }


def main() -> dict:
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    checks = []
    for size in (10**5, *SIZES):
        checks.append(finite_check(size))
        c = checks[-1]
        print(
            f"{size:>10,} values  isfinite {c['isfinite_us']:8.1f} µs  dot {c['dot_us']:7.1f} µs", flush=True
        )
    rows = []
    for size in SIZES:
        for shards in SHARDS:
            row = case(size, shards)
            rows.append(row)
            shown = "  ".join(
                f"{k.removesuffix('_us')} {v:8.1f} µs" for k, v in row.items() if k.endswith("_us")
            )
            print(f"p={size:>10,} S={shards}  {shown}", flush=True)
    result = {
        "ratio": RATIO, "repeats": REPEATS, "finite_check": checks, "rows": rows,
        "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip
    write_result("shard_decode", result)
    return result


if __name__ == "__main__":
    main()
