"""docs/engines.md's capacity block, rendered from ``benchmarks/results/capacity.json``."""

from __future__ import annotations

from typing import Any

from benchmarks.report import load_line


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:,.3f}" if seconds < 0.01 else f"{1e3 * seconds:,.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%".replace("-", "−")


def costs_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "| d | payload | push bytes | apply ms | serialise ms | deserialise ms | pull copy ms | encode ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in r["costs"]:
        lines.append(
            f"| {c['parameters']:.0e} | {c['payload']} | {c['push_bytes']:,} | {_ms(c['apply_s'])} "
            f"| {_ms(c['serialise_s'])} | {_ms(c['deserialise_s'])} | {_ms(c['pull_copy_s'])} "
            f"| {_ms(c['encode_s'])} |"
        )
    compute = ", ".join(f"{_ms(t)} ms at d = {float(d):.0e}" for d, t in r["compute_s"].items())
    lines.append(
        f"\nA learner's compute (forward and backward, MLP 784-h-h-10, batch 32, one thread): {compute}."
    )
    return lines


def validation_table(r: dict[str, Any]) -> list[str]:
    lines = [
        "| engine | p | measured updates/s | model, fed | error | model, from p = 1 | error "
        "| measured τ mean | model τ mean | cores busy | CPU ms per update |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in r["validation"]:
        busy, cpu = v.get("cores_busy"), v.get("cpu_per_update_s")
        lines.append(
            f"| {v['engine']} | {v['learners']} | {v['updates_per_s']:,.0f} "
            f"| {v['fed']['updates_per_s']:,.0f} "
            f"| {_pct(v['fed_error'])} | {v['from_p1']['updates_per_s']:,.0f} | {_pct(v['from_p1_error'])} "
            f"| {v['tau_mean']:.2f} | {v['fed']['tau_mean']:.2f} "
            f"| {'–' if busy is None else f'{busy:.2f}'} | {'–' if cpu is None else f'{1e3 * cpu:.2f}'} |"
        )
    worst = max(abs(v["fed_error"]) for v in r["validation"])
    worst_p1 = max(abs(v["from_p1_error"]) for v in r["validation"])
    lines.append(
        f"\n{r['assumptions']['validation_updates']:,} updates a run (mnist5k, MLP, batch 32); measured over "
        f"each run's middle half (its steady state), busy cores and CPU of the whole machine. Largest "
        f"error: {100 * worst:.0f}% fed, {100 * worst_p1:.0f}% from p = 1 (target 25%)."
    )
    return lines


def _case(row: dict[str, Any]) -> tuple[int, str, int]:
    return row["parameters"], row["payload"], row["gbits"]


def saturation(r: dict[str, Any], case: tuple[int, str, int]) -> tuple[float, float]:
    """One server's most updates/s, and the p whose learners alone would ask that many: where one
    server becomes the bottleneck (the model's own crossing of the two limits)."""
    rows = [row for row in r["rows"] if _case(row) == case]
    most = max(row["updates_per_s"] for row in rows if row["shards"] == 1)
    fewest = min(row["learners"] for row in rows)
    per_learner = next(row["unlimited_per_s"] for row in rows if row["learners"] == fewest) / fewest
    return most, most / per_learner


def needed_table(r: dict[str, Any]) -> list[str]:
    learners = sorted({row["learners"] for row in r["rows"]})
    at = {(*_case(row), row["learners"], row["shards"]): row for row in r["rows"]}
    head = " | ".join(f"p = {p:,}" for p in learners)
    lines = [
        f"| d | payload | Gbit/s | one server saturates at | {head} |",
        "|---|---|---|---|" + "---|" * len(learners),
    ]
    for n in r["shards_needed"]:
        cells = []
        for p in learners:
            s = n["shards_needed"][str(p)]
            if s is None:
                cells.append("> 64")
                continue
            row = at[(*_case(n), p, s)]
            cells.append(
                f"{s}: {row['updates_per_s']:,.0f}/s, τ {row['tau_mean']:,.0f} / {row['tau_p95']:,.0f}"
            )
        most, p_star = saturation(r, _case(n))
        first = f"p ≈ {p_star:,.1f} ({most:,.0f}/s)"
        lines.append(
            f"| {n['parameters']:.0e} | {n['payload']} | {n['gbits']} | {first} | " + " | ".join(cells) + " |"
        )
    return lines


def ceiling_table(r: dict[str, Any]) -> list[str]:
    """One server's updates/s against the learners' own limit, by p."""
    learners = sorted({row["learners"] for row in r["rows"]})
    lines = [
        "| d | payload | Gbit/s | " + " | ".join(f"p = {p:,}" for p in learners) + " |",
        "|---|---|---|" + "---|" * len(learners),
    ]
    for case in sorted({_case(row) for row in r["rows"]}):
        one = {row["learners"]: row for row in r["rows"] if _case(row) == case and row["shards"] == 1}
        cells = [f"{one[p]['updates_per_s']:,.0f} of {one[p]['unlimited_per_s']:,.0f}" for p in learners]
        lines.append(f"| {case[0]:.0e} | {case[1]} | {case[2]} | " + " | ".join(cells) + " |")
    return lines


def capacity_block(r: dict[str, Any], recorded: str) -> str:
    a = r["assumptions"]
    lines = [
        "Per-push costs measured here (one thread, medians):",
        "",
        *costs_table(r),
        "",
        "The model against the engines on this machine:",
        "",
        *validation_table(r),
        "",
        "Predicted updates/s of one server, against the learners' own limit (unlimited servers):",
        "",
        *ceiling_table(r),
        "",
        f"Shards needed for at least {100 * a['enough']:.0f}% of the learners' own limit, with the "
        "predicted updates/s and τ mean / p95 there:",
        "",
        *needed_table(r),
        "",
        f"Assumed: {1e6 * a['latency_s']:.0f} µs network latency per message, "
        f"{1e6 * a['call_overhead_s']:.0f} µs "
        f"per message at a shard, compute times log-normal with σ = {a['compute_sigma']}.",
        *load_line(r, gap=False),
        "",
        recorded,
    ]
    return "\n".join(lines)
