"""The generated blocks of docs/theory.md (``python -m benchmarks.report --write`` rewrites them).

Each block sits between ``<!-- theory:NAME -->`` and ``<!-- /theory:NAME -->`` and ends with the
command that regenerates it. ``lr`` is the recorded output of ``asyncsgd theory lr``
(benchmarks/theory_lr.py); ``probes``, ``kink`` and ``run`` are the numbers recorded by
benchmarks/theory_numbers.py; ``ratio`` and ``t0`` are computed here from
:mod:`asyncsgd.theory.bound`. The prose that quotes a block's numbers lies in a
``theory:NAME-notes`` block, and tests/theory/test_docs.py checks that every number it quotes is
in block NAME.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, fill_blocks

THEORY_DOC = Path(__file__).resolve().parents[1] / "docs" / "theory.md"
RATIO_LEARNERS = [16, 256, 512]
RATIO_ALPHAS = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
T0_ALPHAS = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 10000.0]
T0_LEARNERS = [16, 256]
REPORT = "`python -m benchmarks.report --write`"


def _load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _recorded(r: dict[str, Any], by: str, what: str = "Recorded") -> str:
    machine = f"{r['machine']['cpus']} CPUs, torch {r['machine']['torch']}"
    return f"_{what} by `python -m {by}` on {r['date']} ({machine}); rendered by {REPORT}._"


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%".replace("-", "−")


def lr_block() -> str:
    from asyncsgd.theory.render import lr_text

    r = _load("theory_lr")
    wall = next(row["wall_s"] for row in r["rows"] if row["model"] == "lenet")
    machine = f"{r['machine']['cpus']} CPUs, torch {r['machine']['torch']}"
    return (
        f"```\n$ asyncsgd theory lr\n{lr_text(r['document'])}\n\ntook {wall:.1f} s\n```\n\n"
        f"_Recorded by `python -m benchmarks.theory_lr` on {r['date']} ({machine}); "
        f"wall time is the median of {len(r['rows'][0]['wall_s_all'])} runs._"
    )


def ratio_block() -> str:
    from asyncsgd.theory.render import ratio_text

    command = f"asyncsgd theory ratio --p {' '.join(map(str, RATIO_LEARNERS))} --alpha "
    command += " ".join(f"{a:g}" for a in RATIO_ALPHAS)
    return f"```\n$ {command}\n{ratio_text(RATIO_LEARNERS, RATIO_ALPHAS)}\n```\n\n_Computed by {REPORT}._"


def t0_block() -> str:
    """How much a one-learner reference with ``T = 0`` (instead of the study's ``T = 1``) raises
    ``R_p/R_1``: ``r*(α, 1)/r*(α, 0)``, whatever p, since only the one-learner optimum moves."""
    from asyncsgd.theory.bound import delay_ratio, optimal_normalized_bound
    from asyncsgd.theory.render import num

    head = "| α | R_p/R_1 rises by (any p) | " + " | ".join(
        f"R_p/R_1, p = {p}, one learner at T = 1 | at T = 0" for p in T0_LEARNERS
    )
    lines = [head + " |", "|---" * (2 + 2 * len(T0_LEARNERS)) + "|"]
    for a in T0_ALPHAS:
        raise_by = optimal_normalized_bound(a, 1) / optimal_normalized_bound(a, 0)
        cells = [f"{num(delay_ratio(a, p))} | {num(delay_ratio(a, p) * raise_by)}" for p in T0_LEARNERS]
        lines.append(f"| {num(a)} | {_pct(raise_by - 1)} | " + " | ".join(cells) + " |")
    lines.append(
        "\n_Computed from `asyncsgd.theory.bound.optimal_normalized_bound` (the optimum of (1) under (2) "
        f"for α and T) by {REPORT}._"
    )
    return "\n".join(lines)


def _probe_label(sets: list[str]) -> str:
    label = " ".join(sets)
    return f"`{label}` (the defaults)" if sets == ["seed=0"] else f"`{label}`"


def probes_block() -> str:
    from asyncsgd.theory.render import num

    r = _load("theory_numbers")
    lines = [
        f"| `asyncsgd theory lr --methods {r['method']} --set …` | f at the last point | L (Hessian, max) "
        "| σ² (max) | predicted lr |",
        "|---|---|---|---|---|",
    ]
    for row in r["probes"]:
        samples = row["estimates"]["settings"]["samples"]
        note = f" (Hessian on all {row['estimates']['n_train']:,})" if samples == 0 else ""
        lines.append(
            f"| {_probe_label(row['set'])}{note} | {num(row['f_last'])} "
            f"| {num(row['lipschitz_hessian_max'])} | {num(row['sigma2_max'])} | {num(row['lr'])} |"
        )
    seeds = [row["lr"] for row in r["probes"] if len(row["set"]) == 1 and row["set"][0].startswith("seed=")]
    mean = statistics.fmean(seeds)
    lines.append(
        f"\nOver the run seeds {', '.join(row['set'][0][5:] for row in r['probes'][: len(seeds)])} the "
        f"default probe predicts lr from {num(min(seeds))} to {num(max(seeds))}: "
        f"{_pct(min(seeds) / mean - 1)} to +{_pct(max(seeds) / mean - 1)} of their mean {num(mean)}."
    )
    lines.append("\n" + _recorded(r, "benchmarks.theory_numbers", "Each row's `--json` output recorded"))
    return "\n".join(lines)


def kink_block() -> str:
    from asyncsgd.theory.render import num

    r = _load("theory_numbers")
    k = r["kink"]
    lines = [
        f"| at x1 (seed {k['seed']}), on the probe's {k['samples']} samples | float32 | float64 |",
        "|---|---|---|",
        f"| power iteration, {k['iterations']} Hessian-vector products: \\|vᵀHv\\| (residual ‖Hv − λv‖) "
        + "".join(f"| {num(k[t]['power'])} ({num(k[t]['residual'])}) " for t in ("float32", "float64"))
        + "|",
        "| curvature along the gradient, ‖H∇f‖/‖∇f‖ "
        + "".join(f"| {num(k[t]['curvature_along_gradient'])} " for t in ("float32", "float64"))
        + "|",
    ]
    for i, h in enumerate(k["steps"]):
        lines.append(
            f"| secant of the step h·∇f, h = {h:g} "
            + "".join(f"| {num(k[t]['secant'][i])} " for t in ("float32", "float64"))
            + "|"
        )
    est = r["probes"][0]["estimates"]
    steps = est["steps_at"]
    lines += [
        "",
        "| along the default probe, steps | " + " | ".join(str(s) for s in steps) + " |",
        "|---" * (1 + len(steps)) + "|",
        *(
            f"| L, {label} | " + " | ".join(num(v) for v in est[key]["per_point"]) + " |"
            for label, key in (
                ("Hessian (power iteration)", "lipschitz_hessian"),
                ("secant of one probe step", "lipschitz_secant"),
            )
        ),
        "",
        _recorded(r, "benchmarks.theory_numbers"),
    ]
    return "\n".join(lines)


def run_block() -> str:
    from asyncsgd.theory.render import num

    r = _load("theory_numbers")
    lines = [
        f"| `asyncsgd run --methods {r['method']} --set …` | lr | test accuracy | epochs | updates "
        "| τ p50 / p95 / max |",
        "|---|---|---|---|---|---|",
    ]
    for rate, run in r["runs"].items():
        st = run["staleness"]
        lines.append(
            f"| `lr={rate}` | {num(run['lr'])} | {100 * run['final_test_accuracy']:.2f}% | {run['epochs']:g} "
            f"| {run['updates']:,} | {st['p50']} / {st['p95']} / {st['max']} |"
        )
    lines += [
        "",
        f"```\n$ asyncsgd theory bound --run RUN_DIR --method {r['method']}     # the lr=auto run\n"
        f"{r['bound_text']}\n```",
        "",
        _recorded(r, "benchmarks.theory_numbers"),
    ]
    return "\n".join(lines)


BLOCKS = {
    "lr": lr_block,
    "ratio": ratio_block,
    "t0": t0_block,
    "probes": probes_block,
    "kink": kink_block,
    "run": run_block,
}


def theory_doc_blocks() -> dict[str, str]:
    return {name: make() for name, make in BLOCKS.items()}


def render_theory_doc(text: str) -> str:
    return fill_blocks(text, "theory", theory_doc_blocks())
