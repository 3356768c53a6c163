"""Markdown tables of the benchmark results, for the README (``python -m benchmarks.report``).

The README holds each table between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
``--write`` refreshes them, and a test fails when README and results disagree.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def topk_selection(r: dict) -> str:
    lines = [
        "| n | ratio | asyncsgd GB/s | torch.topk GB/s | numpy.argpartition GB/s "
        "| speed-up vs faster baseline | copy GB/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        g = row["gb_per_s"]
        lines.append(
            f"| {row['n']:.0e} | {row['ratio']} | {g['asyncsgd']:.2f} | {g['torch.topk']:.2f} "
            f"| {g['numpy.argpartition']:.2f} | ×{row['speedup_vs_best_baseline']:.2f} "
            f"| {row['copy_gb_per_s']:.1f} |"
        )
    return "\n".join(lines)


def sim_overhead(r: dict) -> str:
    lines = [
        "| model | parameters | batch | updates | plain loop s | sim (p = 8) s | ratio "
        "| overhead µs/update |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['model']} | {row['parameters']:,} | {row['batch_size']} | {row['updates']} "
            f"| {row['plain_s']:.2f} | {row['sim_s']:.2f} | {row['ratio']:.3f} "
            f"| {row['overhead_us_per_update']:.0f} |"
        )
    return "\n".join(lines)


def ps_roundtrip(r: dict) -> str:
    lines = [
        "| parameters | p | payload | local updates/s | Ray actor updates/s | × Ray "
        "| memcpy+axpy bound /s | local / bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['parameters']:.0e} | {row['learners']} | {row['payload']} | {row['ours_per_s']:,.0f} "
            f"| {row['ray_per_s']:,.1f} | ×{row['vs_ray']:.0f} | {row['bound_per_s']:,.0f} "
            f"| {row['vs_bound']:.2f} |"
        )
    return "\n".join(lines)


def local_throughput(r: dict) -> str:
    lines = [
        "| learners p | local samples/s | × plain loop |",
        "|---|---|---|",
        f"| plain loop ({r['plain_threads']} threads) | {r['plain_samples_per_s']:,.0f} | ×1.00 |",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['learners']} | {row['samples_per_s']:,.0f} | ×{row['vs_plain']:.2f} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[dict], str]] = {
    "topk_selection": topk_selection,
    "sim_overhead": sim_overhead,
}
# registered once their results are in benchmarks/results/ (python -m benchmarks.<name>)
for _name, _table in (("ps_roundtrip", ps_roundtrip), ("local_throughput", local_throughput)):
    if (RESULTS / f"{_name}.json").is_file():
        TABLES[_name] = _table


def block(name: str) -> str:
    r = _load(name)
    note = f"_Measured {r['date']}, {r['machine']['cpus']} CPUs, torch {r['machine']['torch']}._"
    return f"{TABLES[name](r)}\n\n{note}"


def render(text: str) -> str:
    for name in TABLES:
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        text = pattern.sub(lambda m, name=name: m.group(1) + block(name) + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    new = render(README.read_text())
    if "--write" in sys.argv:
        README.write_text(new)
    else:
        print(new)
