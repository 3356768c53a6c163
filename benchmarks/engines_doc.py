"""The generated blocks of docs/engines.md (``python -m benchmarks.report --write`` rewrites them).

Each block sits between ``<!-- engines:NAME -->`` and ``<!-- /engines:NAME -->``, is rendered from
the result a benchmark recorded in ``benchmarks/results/``, and ends with the command that
regenerates it. The prose that quotes a block's numbers lies in an ``engines:NAME-notes`` block,
and tests/test_engines_doc.py checks that every number it quotes is in block NAME, so a measured
number in docs/engines.md is either rendered or checked against a rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

from benchmarks.capacity_doc import capacity_block
from benchmarks.common import fill_blocks
from benchmarks.fault_soak import verdict
from benchmarks.report import load_line, ray_transport
from benchmarks.theory_doc import _load, _recorded

ENGINES_DOC = Path(__file__).resolve().parents[1] / "docs" / "engines.md"


def pull_block() -> str:
    """The unit costs behind the ``local`` change log's thresholds."""
    r = _load("pull_changes")
    u, n = r["units"], r["parameters"]
    scattered = round(1e6 * u["scattered_ms"] / u["scattered_ns_per_coordinate"])
    lines = [
        f"| {n:,} float32, {r['machine']['torch_threads']} thread | ms | ns per coordinate |",
        "|---|---|---|",
        f"| gather and scatter {scattered:,} scattered coordinates | {u['scattered_ms']:.2f} "
        f"| {u['scattered_ns_per_coordinate']:.1f} |",
        f"| copy all {n:,} | {u['full_copy_ms']:.2f} | {u['copy_ns_per_coordinate']:.2f} |",
        "",
        "Each a median of repeated calls.",
        *load_line(r, gap=False),
        "",
        _recorded(r, "benchmarks.pull_changes"),
    ]
    return "\n".join(lines)


def finite_block() -> str:
    """What the exact elementwise NaN/Inf check costs against the one dot product read first."""
    r = _load("shard_decode")
    lines = ["| values | torch.isfinite(a).all() µs | torch.dot(a, a) µs | × |", "|---|---|---|---|"]
    for c in r["finite_check"]:
        lines.append(
            f"| {c['values']:,} | {c['isfinite_us']:,.0f} | {c['dot_us']:,.0f} | ×{c['ratio']:.1f} |"
        )
    lines += [
        f"\nOne thread, medians of {r['repeats']} interleaved calls.",
        *load_line(r, gap=False),
        "",
        _recorded(r, "benchmarks.shard_decode"),
    ]
    return "\n".join(lines)


def _soak_row(label: str, counts: dict[str, Any]) -> str:
    keys = ("runs", "finished", "hangs", "wrong_labels", "unaccounted", "leftovers", "kills", "torn", "lost")
    return f"| {label} | " + " | ".join(str(counts[k]) for k in keys) + " |"


def soak_block() -> str:
    """The recorded fault soak of ``local``: one row per setup, and the recorded totals."""
    r = _load("fault_soak")

    def setup(row: dict[str, Any]) -> tuple[bool, int]:
        return row["respawn"], row["shards"]

    lines = [
        "| `respawn`, shards | runs | finished | hangs | wrong stop reasons | unaccounted | leftovers "
        "| learners killed | torn | lost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (respawn, shards), rows in groupby(sorted(r["rows"], key=setup), key=setup):
        lines.append(_soak_row(f"{'on' if respawn else 'off'}, {shards}", verdict(list(rows))))
    lines.append(_soak_row("all", r))
    kills = " or ".join(str(k) for k in r["kill_choices"])
    lines += [
        f"\np = {r['learners']} learners, {r['updates']:,} updates a run, {kills} learners killed a run "
        f"(seed {r['seed']}). Target (every run finished; no hang, wrong stop reason, unaccounted update "
        f"or leftover): {'met' if r['met'] else 'not met'}.",
        *load_line(r, gap=False),
        "",
        _recorded(r, "benchmarks.fault_soak"),
    ]
    return "\n".join(lines)


def transport_block() -> str:
    """What a Ray actor call costs by the size of its answer (docs/benchmarks.md's table of it, too)."""
    r = _load("ray_transport")
    return f"{ray_transport(r)}\n\n{_recorded(r, 'benchmarks.ray_transport')}"


def capacity_doc_block() -> str:
    """The capacity model's measured costs, its validation and its predictions."""
    r = _load("capacity")
    return capacity_block(r, _recorded(r, "benchmarks.capacity"))


BLOCKS: dict[str, Callable[[], str]] = {
    "pull": pull_block,
    "finite": finite_block,
    "soak": soak_block,
    "transport": transport_block,
    "capacity": capacity_doc_block,
}


def engines_doc_blocks() -> dict[str, str]:
    return {name: make() for name, make in BLOCKS.items()}


def render_engines_doc(text: str) -> str:
    return fill_blocks(text, "engines", engines_doc_blocks())
