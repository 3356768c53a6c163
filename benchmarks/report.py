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


def sweep_parallel(r: dict) -> str:
    lines = [
        "| runs | s per run | one process s | sweep, 1 worker s | sweep, 2 workers s "
        "| 2 plain processes s | speed-up: sweep (2 workers) | speed-up: 2 plain processes "
        "| machine load before / after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['runs']} | {row['run_s']:.2f} | {row['in_process_s']:.1f} | {row['workers_1_s']:.1f} "
            f"| {row['workers_2_s']:.1f} | {row.get('plain_2_s', float('nan')):.1f} "
            f"| ×{row['speedup_2_workers']:.2f} | ×{row.get('speedup_2_plain', float('nan')):.2f} "
            f"| {' / '.join(f'{x:.1f}' for x in row.get('load_average', [])) or '–'} |"
        )
    return "\n".join(lines)


TABLES: dict[str, Callable[[dict], str]] = {
    "topk_selection": topk_selection,
    "sim_overhead": sim_overhead,
    "sweep_parallel": sweep_parallel,
}


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
