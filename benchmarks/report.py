"""Markdown tables of the benchmark results, for docs/benchmarks.md (``python -m benchmarks.report``).

docs/benchmarks.md holds each table between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
``--write`` refreshes them, and the generated blocks of docs/theory.md (benchmarks/theory_doc.py)
and docs/engines.md (benchmarks/engines_doc.py); a test fails when a document and its results
disagree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import RESULTS, fill_blocks
from benchmarks.theory_doc import THEORY_DOC, render_theory_doc, theory_doc_blocks

BENCHMARKS_DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
__all__ = ["BENCHMARKS_DOC", "THEORY_DOC", "render", "render_theory_doc", "theory_doc_blocks"]


def load_line(r: dict, gap: bool = True) -> list[str]:
    """The machine's load average around the measurement, when the result recorded it."""
    load = r.get("load_average")
    if not load:
        return []
    text = f"Load average of the machine: {load[0]:.1f} before, {load[1]:.1f} after."
    return ["\n" + text if gap else text]


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def topk_selection(r: dict) -> str:
    lines = [
        "| n | ratio | asyncsgd GB/s | its numpy path GB/s | torch.topk GB/s | numpy.argpartition GB/s "
        "| speed-up vs faster baseline | copy GB/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        g = row["gb_per_s"]
        numpy_path = f"{g['asyncsgd numpy']:.2f}" if "asyncsgd numpy" in g else "–"
        lines.append(
            f"| {row['n']:.0e} | {row['ratio']} | {g['asyncsgd']:.2f} | {numpy_path} | {g['torch.topk']:.2f} "
            f"| {g['numpy.argpartition']:.2f} | ×{row['speedup_vs_best_baseline']:.2f} "
            f"| {row['copy_gb_per_s']:.1f} |"
        )
    if "compiled" in r:
        lines.append(
            f"\nCompiled loops: {'yes' if r['compiled'] else 'no (numba absent)'}; first call "
            f"(compiling included) {r['first_call_s']:.2f} s."
        )
    if r.get("scan_modes"):
        modes = ", ".join(f"{100 * m['density']:g}%: ×{m['eager_vs_loop']:.2f}" for m in r["scan_modes"])
        lines.append(
            f"\nThe compiled scan alone at 10^6, two branch-free takes per word against the loop, by "
            f"share passing: {modes}."
        )
    lines.extend(load_line(_loads(r)))
    return "\n".join(lines)


def _loads(r: dict) -> dict:
    """``r`` with its load average as the (before, after) pair :func:`load_line` reads."""
    load = r.get("load_average")
    if isinstance(load, dict):
        return {"load_average": [load["before"], load["after"]]}
    return r


def sim_parallel(r: dict) -> str:
    lines = [
        "| model | parameters | updates | serial s | 2 workers s | ratio | default (workers) s | ratio "
        "| same parameters |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['model']} | {row['parameters']:,} | {row['updates']} | {row['serial_s']:.2f} "
            f"| {row['workers=2_s']:.2f} | {row['workers=2_ratio']:.3f} "
            f"| {row['auto_s']:.2f} ({row['auto_workers']}) | {row['auto_ratio']:.3f} "
            f"| {'yes' if row['params_identical'] else 'no'} |"
        )
    lines.extend(load_line(_loads(r)))
    return "\n".join(lines)


def sim_breakdown(r: dict) -> str:
    parts: list[str] = []
    for row in r["rows"]:
        for side in ("plain_us", "sim_us"):
            parts += [k for k in row[side] if k not in parts and k != "total"]
    cases = [f"{row['model']} b{row['batch_size']}" for row in r["rows"]]
    head = " | ".join(f"{c} plain | {c} sim" for c in cases)
    lines = [f"| µs per update | {head} |", "|---" * (1 + 2 * len(cases)) + "|"]
    for part in [*parts, "total"]:
        cells = []
        for row in r["rows"]:
            for side in ("plain_us", "sim_us"):
                cells.append(f"{row[side][part]:.0f}" if part in row[side] else "—")
        lines.append(f"| {part} | {' | '.join(cells)} |")
    lines.extend(load_line(_loads(r)))
    return "\n".join(lines)


def ray_multinode(r: dict) -> str:
    lines = [
        "| parameters | learners and shard on two nodes, updates/s | all on one node, updates/s "
        "| two / one |",
        "|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['parameters']:,} | {row['split_per_s']:.1f} | {row['one_node_per_s']:.1f} "
            f"| ×{row['split_vs_one']:.2f} |"
        )
    lines.append(
        f"\n{r['learners']} learners, {r['shards']} shard, medians of {r['repeats']} windows of "
        f"{r['seconds']:g} s; nodes used: {r['nodes_used']}."
    )
    return "\n".join(lines)


def sweep_ray(r: dict) -> str:
    lines = [
        "| runs | local pool s (workers) | Ray cluster s (runs at a time) | Ray / local | same results |",
        "|---|---|---|---|---|",
        f"| {r['runs']} | {r['local_s']:.1f} ({r['local_workers']}) | {r['ray_s']:.1f} ({r['ray_slots']}) "
        f"| ×{r['ray_vs_local']:.2f} | {'yes' if r['same_results'] else 'no'} |",
    ]
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


def codec_throughput(r: dict) -> str:
    sizes = sorted({row["n"] for row in r["rows"]})
    head = " | ".join(f"{n:.0e} GB/s" for n in sizes)
    lines = [f"| codec | bits per coordinate | {head} | target GB/s | met |", "|---" * (4 + len(sizes)) + "|"]
    by_name: dict[str, dict[int, dict]] = {}
    for row in r["rows"]:
        by_name.setdefault(row["codec"], {})[row["n"]] = row
    for name, rows in by_name.items():
        first = rows[sizes[0]]
        bits = f"{first['bits_per_coordinate']:.3g}" if "bits_per_coordinate" in first else "—"
        speeds = " | ".join(f"{rows[n]['gb_per_s']:.2f}" for n in sizes)
        targets = [rows[n].get("target_gb_per_s") for n in sizes]
        if name == "topk":
            target = "faster baseline: " + " / ".join(f"{t:.2f}" for t in targets)
        else:
            target = f"{targets[0]:.1f}" if targets[0] is not None else ""
        met = [rows[n].get("met") for n in sizes]
        shown = (
            ""
            if met[0] is None
            else (
                "yes"
                if all(met)
                else "no: " + ", ".join(f"{n:.0e}" for n, m in zip(sizes, met, strict=True) if not m)
            )
        )
        label = f"`{name}`" if "bits_per_coordinate" in first else f"*{name}*"
        lines.append(f"| {label} | {bits} | {speeds} | {target} | {shown} |")
    load = r.get("load_average")
    if load:  # the machine is shared: say how busy it was
        lines.append(
            f"\nLoad average of the 2-core machine: {load['before']:.1f} before, {load['after']:.1f} after."
        )
    return "\n".join(lines)


def ps_roundtrip(r: dict) -> str:
    lines = [
        "| parameters | p | payload | local updates/s | Ray actor updates/s | × Ray (geometric mean) "
        "| 95% interval | memcpy+axpy bound /s | local / bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        low, high = row["vs_ray_95"]
        lines.append(
            f"| {row['parameters']:.0e} | {row['learners']} | {row['payload']} | {row['ours_per_s']:,.0f} "
            f"| {row['ray_per_s']:,.1f} | ×{row['vs_ray']:.1f} | ×{low:.1f} to ×{high:.1f} "
            f"| {row['bound_per_s']:,.0f} | {row['vs_bound']:.2f} |"
        )
    long = r.get("seconds_1e7", r["seconds"])  # results from before longer windows at 10^7 have none
    at_1e7 = f" ({long:g} s and {1.5 * long:g} s at 10^7)" if long != r["seconds"] else ""
    lines.append(
        f"\nUpdates/s: medians of {r['pairs']} pairs of {r['seconds']:g} s (local) and "
        f"{1.5 * r['seconds']:g} s (Ray){at_1e7} after {r['warmup']:g} s of warm-up; × Ray over the pairs."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def pull_changes(r: dict) -> str:
    u = r["units"]
    lines = [
        "| learners p | changed coordinates updates/s | full copies updates/s | × |",
        "|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['learners']} | {row['changes_per_s']:,.0f} | {row['full_copy_per_s']:,.0f} "
            f"| ×{row['ratio']:.2f} |"
        )
    lines.append(
        f"\nUnit costs, one thread: {u['scattered_ms']:.2f} ms to gather and scatter 10^5 scattered "
        f"coordinates ({u['scattered_ns_per_coordinate']:.0f} ns each), {u['full_copy_ms']:.2f} ms to copy "
        f"all 10^7 ({u['copy_ns_per_coordinate']:.2f} ns each). Medians of {r['repeats']} interleaved "
        f"repeats of {r['seconds']:g} s."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def sparse_apply(r: dict) -> str:
    lines = [
        "| parameters | coordinates (1%) | index_add_ µs | scatter_add_ µs | × | add_to uses |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['parameters']:,} | {row['coordinates']:,} | {row['index_add_us']:,.0f} "
            f"| {row['scatter_add_us']:,.0f} | ×{row['ratio']:.2f} | `{row['add_to_uses']}_` |"
        )
    lines.append(
        f"\nOne thread, caches flushed before each call, medians of {r['repeats']} interleaved calls; "
        f"both give bit-identical parameters in every case."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def shard_decode(r: dict) -> str:
    lines = ["| values | torch.isfinite(a).all() µs | torch.dot(a, a) µs | × |", "|---|---|---|---|"]
    for c in r["finite_check"]:
        lines.append(
            f"| {c['values']:,} | {c['isfinite_us']:,.0f} | {c['dot_us']:,.0f} | ×{c['ratio']:.1f} |"
        )
    lines += [
        "",
        "| parameters | S | coordinates (1%) | torch mask µs | SliceCodec µs | × "
        "| SliceCodec, shuffled µs | × | cut + part µs | × |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        ways = " | ".join(
            f"{row[f'{way}_us']:,.0f} | ×{row['vs_torch_mask'][way]:.1f}"
            for way in ("slice_codec", "slice_codec_shuffled", "cut_and_part")
        )
        case = f"{row['parameters']:,} | {row['shards']} | {row['coordinates']:,}"
        lines.append(f"| {case} | {row['torch_mask_us']:,.0f} | {ways} |")
    lines.append(
        f"\nµs per push for all S shards together, one thread, medians of {r['repeats']} interleaved "
        f"calls; × is the torch mask's time over each; all four give every shard the same update."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def local_shards(r: dict) -> str:
    lines = [
        "| parameters | p | payload | S = 1 updates/s | S = 2 updates/s | S = 2 / S = 1 | 95% interval |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        low, high = row["s2_vs_s1_95"]
        lines.append(
            f"| {row['parameters']:.0e} | {row['learners']} | {row['payload']} | {row['s1_per_s']:,.1f} "
            f"| {row['s2_per_s']:,.1f} | ×{row['s2_vs_s1']:.2f} | ×{low:.2f} to ×{high:.2f} |"
        )
    lines.append(
        f"\nMedians of {r['pairs']} pairs of {r['seconds']:g} s each (after {r['warmup']:g} s of "
        f"warm-up); the ratio is the geometric mean over the pairs."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def ray_engine(r: dict) -> str:
    lines = [
        "| parameters | p | payload | ray engine updates/s | plain Ray actor updates/s | × plain "
        "| S = 1, learner loads /s | S = 2, learner loads /s | S = 2 / S = 1 | local updates/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        shards = " | | "
        if "s2_vs_s1" in row:
            s1, s2 = row["ray_s1_load_per_s"], row["ray_s2_load_per_s"]
            shards = f"{s1:,.1f} | {s2:,.1f} | ×{row['s2_vs_s1']:.2f}"
            if "s2_vs_s1_95" in row:  # results from before S = 1 and S = 2 ran in pairs have none
                shards += " (95%: ×{:.2f} to ×{:.2f})".format(*row["s2_vs_s1_95"])
        lines.append(
            f"| {row['parameters']:.0e} | {row['learners']} | {row['payload']} | {row['ray_per_s']:,.1f} "
            f"| {row['baseline_per_s']:,.1f} | ×{row['vs_baseline']:.2f} | {shards} "
            f"| {row['local_per_s']:,.0f} |"
        )
    pairs = f"; S = 2 / S = 1 over {r['shard_pairs']} pairs" if "shard_pairs" in r else ""
    lines.append(
        f"\nMedians of {r['repeats']} repeat(s) of {r['seconds']:g} s each, "
        f"after {r['warmup']:g} s of warm-up{pairs}."
    )
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def ray_overhead(r: dict) -> str:
    lines = [
        "| parameters | p | payload | pairs | engine / plain (geometric mean) | 95% interval "
        "| shard's core apply µs/push | learner's pull µs/push |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        low, high = row["ratio_95"]
        lines.append(
            f"| {row['parameters']:.0e} | {row['learners']} | {row['payload']} | {row['pairs']} "
            f"| ×{row['ratio']:.2f} | ×{low:.2f} to ×{high:.2f} | {row['apply_us']:.0f} "
            f"| {row['pull_us']:.0f} |"
        )
    lines.append(f"\nEach run {r['seconds']:g} s after {r['warmup']:g} s of warm-up.")
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def ray_transport(r: dict) -> str:
    lines = [
        "| answer bytes | calls/s | ms per call | in inline chunks: chunks | calls/s | ms per call |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        chunked = (
            f"{row['chunks']} | {row['chunked_calls_per_s']:,.0f} | {row['chunked_ms_per_call']:.2f}"
            if "chunks" in row
            else "– | – | –"
        )
        lines.append(
            f"| {row['answer_bytes']:,} | {row['calls_per_s']:,.0f} | {row['ms_per_call']:.2f} | {chunked} |"
        )
    lines.append(f"\nMedians of {r['repeats']} interleaved repeats of {r['seconds']:g} s each.")
    lines.extend(load_line(r, gap=False))
    return "\n".join(lines)


def theory_lr(r: dict) -> str:
    lines = [
        "| model | parameters | probe points | Hessian-vector products (samples each) "
        "| mini-batch gradients | per-sample gradients | probe steps | one HVP ms "
        "| one mini-batch gradient ms | wall s (median of 3) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['model']} | {row['parameters']:,} | {row['points']} "
            f"| {row['hessian_vector_products']} ({row['hessian_samples']:,}) | {row['minibatch_gradients']} "
            f"| {row['per_sample_gradients']:,} | {row['trajectory_steps']} | {row['hvp_ms']:.0f} "
            f"| {row['minibatch_gradient_ms']:.1f} | {row['wall_s']:.1f} |"
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


def local_throughput(r: dict) -> str:
    lines = [
        "| learners p | mode | local samples/s | × plain loop |",
        "|---|---|---|---|",
        f"| plain loop ({r['plain_threads']} threads) | | {r['plain_samples_per_s']:,.0f} | ×1.00 |",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['learners']} | {row.get('mode', 'server')} | {row['samples_per_s']:,.0f} "
            f"| ×{row['vs_plain']:.2f} |"
        )
    lines.extend(load_line(r))
    return "\n".join(lines)


TABLES: dict[str, Callable[[dict], str]] = {
    "topk_selection": topk_selection,
    "sim_overhead": sim_overhead,
    "sim_parallel": sim_parallel,
    "sim_breakdown": sim_breakdown,
    "ray_multinode": ray_multinode,
    "sweep_ray": sweep_ray,
    "codec_throughput": codec_throughput,
    "theory_lr": theory_lr,
    "sweep_parallel": sweep_parallel,
    "ps_roundtrip": ps_roundtrip,
    "pull_changes": pull_changes,
    "sparse_apply": sparse_apply,
    "shard_decode": shard_decode,
    "local_shards": local_shards,
    "ray_engine": ray_engine,
    "ray_overhead": ray_overhead,
    "ray_transport": ray_transport,
    "local_throughput": local_throughput,
}


def block(name: str) -> str:
    r = _load(name)
    note = f"_Measured {r['date']}, {r['machine']['cpus']} CPUs, torch {r['machine']['torch']}._"
    return f"{TABLES[name](r)}\n\n{note}"


def render(text: str) -> str:
    return fill_blocks(text, "bench", {name: block(name) for name in TABLES})


if __name__ == "__main__":
    new = render(BENCHMARKS_DOC.read_text())
    if "--write" in sys.argv:
        from benchmarks.engines_doc import ENGINES_DOC, render_engines_doc  # it imports this module

        BENCHMARKS_DOC.write_text(new)
        THEORY_DOC.write_text(render_theory_doc(THEORY_DOC.read_text()))
        ENGINES_DOC.write_text(render_engines_doc(ENGINES_DOC.read_text()))
    else:
        print(new)
