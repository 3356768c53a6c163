"""Plain-text and JSON renderings of estimates, predictions, bounds and the ratio table.

Numbers are printed with four significant digits; JSON keeps full precision, a fixed key order
and a ``format`` version, so it can be diffed and parsed.
"""

from __future__ import annotations

import math
from typing import Any

from asyncsgd.theory.bound import Constants, constraint, delay_ratio, guarantee_ratio, optimal_u, u_max
from asyncsgd.theory.predict import ONE_LEARNER_DELAY, RATES, Prediction, Problem, predict
from asyncsgd.theory.probe import Estimates, Stat

JSON_FORMAT = 1


def num(value: float) -> str:
    """Four significant digits; integers above 10⁴ with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if abs(value) >= 1e4 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def _relative(stat: Stat) -> str:
    if stat.spread_kind.startswith("none"):
        return "— (a lower bound on L)"
    parts = []
    for value, spread in zip(stat.values, stat.spread, strict=True):
        parts.append("—" if value == 0 or not math.isfinite(spread) else f"{100 * spread / value:.1f}%")
    return " ".join(parts)


def estimates_text(est: Estimates, lipschitz: str = "hessian", title: str = "") -> str:
    s = est.settings
    lines = [title] if title else []
    lines.append(
        f"probe: {s.points} point(s) {s.steps} SGD steps apart (rate {num(s.probe_lr)}, M = {s.batch_size}, "
        f"seed {s.seed}); per point {s.batches} mini-batches for σ², power iteration "
        f"(≤ {s.hvp} Hessian-vector products) and a secant on {min(s.samples or est.n_train, est.n_train):,} "
        f"samples for L"
    )
    rows = [
        ("constant", "max", "mean", "relative spread per point", "samples per point"),
        ("D_f = f(x1) − f_low", num(est.d_f), "", f"exact (f_low = {num(s.f_low)})", f"{est.n_train:,}"),
    ]

    def row(label: str, stat: Stat, extra: str = "") -> None:
        samples = ", ".join(f"{v:,}" for v in sorted(set(stat.samples)))
        rows.append((label, num(stat.max), num(stat.mean), _relative(stat), samples + extra))

    row(f"σ_M²  mini-batch variance, M = {s.batch_size}", est.sigma2_batch)
    row("σ²    per-sample variance", est.sigma2_sample)
    labels = {"hessian": "L     Hessian, power iteration", "secant": "L     secant, one probe step"}
    for source, label in labels.items():
        stat = est.lipschitz(source)
        extra = f" × {sum(stat.terms)} HVPs" if source == "hessian" else ""
        row(label + (" *" if source == lipschitz else ""), stat, extra)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        cells = [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:3], widths[1:3], strict=True))]
        cells += [r[3].ljust(widths[3]), r[4]]
        lines.append("  ".join(cells).rstrip())
    lines.append(
        "* feeds the formulas (with the max over points).  spread: standard error for σ², "
        "eigen-residual ‖Hv − λv‖ for the Hessian"
    )
    lines.append(f"σ² from: {est.sigma2_sample_source}")
    walk = ", ".join(f"{num(v)} ({k} steps)" for v, k in zip(est.loss, est.steps_at, strict=True))
    lines.append(f"f along the probe: {walk}")
    cost = est.cost
    lines.append(
        f"cost: {cost.get('hessian_vector_products', 0)} Hessian-vector products, "
        f"{cost.get('minibatch_gradients', 0)} mini-batch gradients, "
        f"{cost.get('per_sample_gradients', 0):,} per-sample gradients, "
        f"{cost.get('trajectory_steps', 0)} probe steps, {cost.get('subset_gradients', 0)} subset gradients"
    )
    return "\n".join(lines)


def prediction_text(pred: Prediction, configured_lr: float | str | None = None) -> str:
    c, p = pred.constants, pred.problem
    optimal_1, optimal_p = c.optimal_lr(ONE_LEARNER_DELAY), c.optimal_lr(p.delay)
    bound_1, bound_p = c.optimal_bound(ONE_LEARNER_DELAY), c.optimal_bound(p.delay)
    verdict = _speedup_verdict(c, p.delay)
    lines = [
        f"M = {p.batch_size} samples per update, K = {p.updates:,} updates, p = {p.learners}, "
        f"T = {num(p.delay)} ({p.delay_source})",
        f"  predicted rate ({RATES.entry(pred.rule).summary.split(':')[0]}):",
        f"    lr = {num(pred.lr)}   asyncsgd, gradients are batch means",
        f"    γ  = {num(pred.gamma_lian)}   Lian et al., gradients are batch sums (lr = M·γ)",
    ]
    if isinstance(configured_lr, int | float):
        times = num(configured_lr / pred.lr)
        lines.append(f"  configured lr {num(configured_lr)} is {times}× the prediction")
    feasible = "satisfied" if c.feasible(pred.lr, p.delay) else "VIOLATED: the theorem does not cover it"
    lines += [
        f"  bound (1) at lr: R̄_K ≤ {num(c.bound(pred.lr, p.delay))}; constraint (2): {feasible}",
        f"  α = √(Kσ²/(M·L·D_f)) = {num(pred.alpha)}; linear speed-up α ≥ 2(T+1) = "
        f"{num(pred.speedup_threshold)}: {verdict}",
        f"  optimal lr under (2): one learner {num(optimal_1)}, p = {p.learners} (T = {num(p.delay)}) "
        f"{num(optimal_p)}",
        f"  optimal guarantees: R_1 ≤ {num(bound_1)}, R_p ≤ {num(bound_p)}, ratio R_p/R_1 = "
        f"{num(bound_p / bound_1)} (p/α = {num(p.learners / pred.alpha) if pred.alpha > 0 else '∞'})",
    ]
    return "\n".join(lines)


def _speedup_verdict(c: Constants, delay: float) -> str:
    if c.alpha >= c.speedup_threshold(delay):
        return "holds"
    return f"fails (needs K ≥ {c.updates_for_speedup(delay):,} updates)"


def measured_ratio(c: Constants, delay: float) -> float:
    """Best guarantee with delay bound ``T`` over the best with one learner (``T = 1``)."""
    return delay_ratio(c.alpha, delay)


def lr_text(document: dict[str, Any]) -> str:
    """What ``asyncsgd theory lr`` prints, rendered from its JSON document: every prediction is
    recomputed from the recorded estimates, so the text can never disagree with them."""
    measured = [Estimates.from_dict(e) for e in document["estimates"]]
    methods = document["methods"]
    blocks = []
    for i, (raw, est) in enumerate(zip(document["estimates"], measured, strict=True)):
        feeding = next(m["prediction"]["inputs"]["lipschitz_source"] for m in methods if m["estimates"] == i)
        title = f"{raw['title']}: {est.parameters:,} parameters, n = {est.n_train:,} training samples"
        blocks.append(estimates_text(est, feeding, title))
    groups: dict[str, list[str]] = {}
    for m in methods:
        inputs = m["prediction"]["inputs"]
        problem = Problem.from_inputs(inputs)
        pred = predict(measured[m["estimates"]], problem, m["prediction"]["rule"], inputs["lipschitz_source"])
        prefix = f"[estimates {m['estimates'] + 1}] " if len(measured) > 1 else ""
        groups.setdefault(prefix + prediction_text(pred, m["configured_lr"]), []).append(m["method"])
    for text, names in groups.items():
        blocks.append(f"method{'s' if len(names) > 1 else ''} {', '.join(names)}: {text}")
    notes = [f"note ({m['method']}): {n}" for m in methods for n in m["notes"]]
    if notes:
        blocks.append("\n".join(notes))
    return "\n\n".join(blocks)


def bound_text(c: Constants, lr: float, delay: float, learners: int) -> str:
    """The bound at a run's rate against the best rate for the same delay bound."""
    u = c.lipschitz * lr
    feasible = c.feasible(lr, delay)
    status = "satisfied" if feasible else "VIOLATED: the theorem gives no guarantee at this rate"
    corollary = c.corollary2_lr()
    t = num(delay)
    lines = [
        f"  at the run's lr {num(lr)}: L·lr + 2L²T²·lr² = {num(constraint(u, delay))}, "
        f"constraint (2) {status}",
        f"  bound (1) at that lr: R̄_K ≤ {num(c.bound(lr, delay))}{'' if feasible else ' (not a guarantee)'}",
        f"  optimal lr under (2) for T = {t}: {num(c.optimal_lr(delay))}, "
        f"R̄_K ≤ {num(c.optimal_bound(delay))}",
        f"  Corollary 2's lr: {num(corollary)} (constraint (2) "
        f"{'satisfied' if c.feasible(corollary, delay) else 'violated'})",
        f"  α = {num(c.alpha)}; linear speed-up α ≥ 2(T+1) = {num(c.speedup_threshold(delay))}: "
        f"{_speedup_verdict(c, delay)}",
        f"  ratio of optimal guarantees against one learner: {num(measured_ratio(c, delay))} with T = {t}, "
        f"{num(guarantee_ratio(learners, c.alpha))} with the study's T = p = {learners}",
    ]
    return "\n".join(lines)


def bound_dict(c: Constants, lr: float, delay: float, learners: int) -> dict[str, Any]:
    return {
        "constants": {"d_f": c.d_f, "lipschitz": c.lipschitz, "sigma2_update": c.sigma2_update,
                      "updates": c.updates, "alpha": c.alpha},
        "delay": delay,
        "lr": lr,
        "constraint": constraint(c.lipschitz * lr, delay),
        "feasible": c.feasible(lr, delay),
        "bound": c.bound(lr, delay),
        "optimal_lr": c.optimal_lr(delay),
        "optimal_bound": c.optimal_bound(delay),
        "corollary2_lr": c.corollary2_lr(),
        "linear_speedup": {"threshold": c.speedup_threshold(delay),
                           "holds": c.alpha >= c.speedup_threshold(delay),
                           "updates_needed": c.updates_for_speedup(delay)},
        "ratio": measured_ratio(c, delay),
        "ratio_study": guarantee_ratio(learners, c.alpha),
    }  # fmt: skip


RATIO_LEARNERS = [256, 512]
"""The ratio table's and chart's p by default: those of Bhardwaj & Cong's chart."""
RATIO_ALPHAS = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]
"""The ratio table's and chart's α by default: from α ≪ p (ratio ≈ p/α) to α ≫ p (ratio ≈ 1)."""


def ratio_rows(learners: list[int], alphas: list[float]) -> list[dict[str, Any]]:
    """One row per (p, α): the ratio of optimal guarantees and where each optimum lies."""
    rows = []
    for p in learners:
        for a in alphas:
            u_p, u_1 = optimal_u(a, p), optimal_u(a, ONE_LEARNER_DELAY)
            rows.append(
                {
                    "p": p,
                    "alpha": a,
                    "ratio": guarantee_ratio(p, a),
                    "p_over_alpha": p / a if a > 0 else math.inf,
                    "u_p": u_p,
                    "u_1": u_1,
                    "constrained_p": u_p == u_max(p),
                    "constrained_1": u_1 == u_max(ONE_LEARNER_DELAY),
                }
            )
    return rows


def ratio_json(learners: list[int], alphas: list[float]) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "quantity": "R_p/R_1: optimal bound (1) under (2) with T = p, over the same with one learner (T = 1)",
        "alpha": "√(K σ² / (M L D_f)), σ² per sample",
        "rows": ratio_rows(learners, alphas),
    }


def ratio_text(learners: list[int], alphas: list[float]) -> str:
    rows = {(r["p"], r["alpha"]): r for r in ratio_rows(learners, alphas)}
    header = ["α"] + [h for p in learners for h in (f"p = {p}: R_p/R_1", "p/α")]
    table = [header]
    for a in alphas:
        table.append([num(a)] + [c for p in learners for c in (num(rows[p, a]["ratio"]), num(p / a))])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    out = ["ratio of optimal guarantees, bound (1) under (2) with T = p (one learner: T = 1)"]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(out)


def provenance(est: Estimates, pred: Prediction, settings: dict[str, Any]) -> dict[str, Any]:
    """What ``summary.json`` records for ``lr = "auto"``: the value, the formula, its inputs, the
    estimates and the settings that produced them."""
    return {
        "setting": "auto",
        "value": pred.lr,
        "source": "asyncsgd.theory: Lian et al. (2015) with constants measured on a probe trajectory",
        "prediction": pred.to_dict(),
        "estimates": est.to_dict(),
        "settings": settings,
    }
