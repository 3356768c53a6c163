"""Timing helpers and the JSON result format shared by every benchmark."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"
Samples = dict[tuple[int, int, str], dict[str, list[float]]]
"""Per case (parameters, learners, payload), each column's measurements so far."""
T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}
"""Student's t, 97.5% quantile, by degrees of freedom (1.96 beyond)."""


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def interleaved_us(
    ways: dict[str, Callable[[], object]], repeats: int, before: Callable[[], object] | None = None
) -> dict[str, float]:
    """Median µs of each of ``ways`` over ``repeats`` rounds that call every way once, in turn (so
    drift hits them alike); ``before``, untimed, ahead of every call (a cache flush, say)."""
    got: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            if before is not None:
                before()
            start = time.perf_counter()
            way()
            got[name].append(time.perf_counter() - start)
    return {name: 1e6 * statistics.median(v) for name, v in got.items()}


def interval(ratios: list[float]) -> tuple[float, float, float]:
    """Geometric mean of ``ratios`` (one per pair of runs) and its 95% interval (t over the log
    ratios; NaN bounds with a single pair)."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    half = T_975.get(len(logs) - 1, 1.96) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "processor": platform.processor() or platform.machine(),
    }


def chosen(var: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """What a benchmark loops over (parameter counts, learners): ``default``, or the positive
    integers listed in the environment variable ``var`` (comma-separated, ``1e7`` or
    ``10000000``), to re-run a few cases."""
    text = os.environ.get(var, "").strip()
    if not text:
        return default
    try:
        values = [float(item) for item in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(v.is_integer() and v > 0 for v in values):
        raise SystemExit(f"{var}={text!r}: expected comma-separated positive integers, e.g. 1e6,1e7")
    return tuple(int(v) for v in values)


def write_result(name: str, payload: dict[str, Any], partial: bool = False, subset: bool = False) -> Path:
    """``results/<name>.json``; ``<name>.subset.json`` when the run measured only some of its
    cases (``subset``), so that it never replaces a whole table; with ``.<BENCH_MACHINE>`` before
    ``.json`` when that variable names another machine the run was made on.

    ``partial``: what a long benchmark has measured so far, in ``<...>.partial.json`` beside it,
    so that a run stopped early keeps its cases and never overwrites the last complete result;
    the complete result removes it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = os.environ.get("BENCH_MACHINE", "").strip()
    stem = name + (".subset" if subset else "") + (f".{tag}" if tag else "")
    path, scratch = RESULTS / f"{stem}.json", RESULTS / f"{stem}.partial.json"
    data = {"benchmark": name, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **payload}
    text = json.dumps(data, indent=2) + "\n"
    if partial:
        scratch.write_text(text)
        return scratch
    path.write_text(text)
    scratch.unlink(missing_ok=True)
    return path


def fill_blocks(text: str, family: str, bodies: dict[str, str]) -> str:
    """``text`` with each generated block ``<!-- family:name -->…<!-- /family:name -->`` holding its
    body from ``bodies`` (blocks not in ``bodies`` are left as they are)."""
    for name, body in bodies.items():
        pattern = re.compile(rf"(<!-- {family}:{name} -->\n).*?(<!-- /{family}:{name} -->)", re.S)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text
