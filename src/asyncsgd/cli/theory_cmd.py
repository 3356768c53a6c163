"""``asyncsgd theory``: predict the learning rate and the cost of p learners (Lian et al. 2015).

asyncsgd theory lr [CONFIG] [--set KEY=VALUE ...] [--methods A,B] [--json]
asyncsgd theory ratio [--p P ...] [--alpha A ...] [--json] [--plot FILE]
asyncsgd theory bound --run DIR [--method NAME] [--staleness max|pNN|Q] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from asyncsgd.errors import ConfigError


def _dump(data: Any) -> str:
    """Stable, strict JSON: fixed key order, no NaN/Infinity (written as null)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(data), indent=2, ensure_ascii=False, allow_nan=False)


def _assumption_notes(cfg: Any) -> list[str]:
    """Where a method leaves the setting the bound was proved for."""
    notes = []
    if cfg.codec != "identity":
        notes.append(f"codec = {cfg.codec}: the bound assumes uncompressed gradients")
    if cfg.remedy != "none":
        notes.append(f"remedy = {cfg.remedy}: the bound assumes one constant rate")
    if cfg.rule != "sgd":
        notes.append(f"rule = {cfg.rule}: the bound is for plain SGD")
    return notes


# -- theory lr -----------------------------------------------------------------------------------
def lr_document(exp: Any) -> dict[str, Any]:
    """Estimates (one per distinct data, model and probe) and one prediction per method."""
    import torch

    from asyncsgd.assembly.auto_lr import predict_lr
    from asyncsgd.experiment.runner import prepare_jobs

    threads = exp.methods[0].config.threads
    if threads:  # as `asyncsgd run` does
        torch.set_num_threads(threads)
    cache: dict = {}
    jobs = prepare_jobs(exp, estimates=cache)
    measured: list[Any] = []  # distinct Estimates objects, in order of first use
    estimates, methods = [], []
    for method, job in zip(exp.methods, jobs, strict=True):
        est, pred = predict_lr(job, cache)
        if not any(e is est for e in measured):
            measured.append(est)
            title = f"{job.config.model} on {job.dataset.name}"
            estimates.append({"title": title, **est.to_dict()})
        index = next(i for i, e in enumerate(measured) if e is est)
        methods.append(
            {
                "method": method.name,
                "configured_lr": method.config.lr,
                "estimates": index,
                "prediction": pred.to_dict(),
                "notes": _assumption_notes(method.config),
            }
        )
    return {"format": 1, "experiment": exp.name, "estimates": estimates, "methods": methods}


def lr_(args: argparse.Namespace) -> int:
    from asyncsgd.theory.render import lr_text

    start = time.perf_counter()
    only = [m.strip() for m in args.methods.split(",")] if args.methods is not None else None
    from asyncsgd.config import load_experiment

    document = lr_document(load_experiment(args.config, args.set, only=only))
    if args.json:
        print(_dump(document))
        return 0
    print(lr_text(document))
    print(f"\ntook {time.perf_counter() - start:.1f} s")
    return 0


# -- theory ratio --------------------------------------------------------------------------------
def ratio_(args: argparse.Namespace) -> int:
    from asyncsgd.theory.render import RATIO_ALPHAS, RATIO_LEARNERS, ratio_json, ratio_text

    learners, alphas = list(args.p or RATIO_LEARNERS), list(args.alpha or RATIO_ALPHAS)
    bad_p = [p for p in learners if p < 1]
    if bad_p:
        raise ConfigError("--p", f"learners must be >= 1, got {bad_p[0]}")
    bad_a = [a for a in alphas if not (a > 0 and math.isfinite(a))]
    if bad_a:
        raise ConfigError("--alpha", f"must be finite numbers > 0, got {bad_a[0]}")
    if args.plot:
        plot = Path(args.plot)
        if not plot.parent.is_dir():
            raise ConfigError("--plot", f"no directory {plot.parent}")
    print(_dump(ratio_json(learners, alphas)) if args.json else ratio_text(learners, alphas))
    if args.plot:
        from asyncsgd.plots.theory import ratio_plot

        ratio_plot(learners, alphas, plot)
        if not args.json:
            print(f"plot: {plot}")
    return 0


# -- theory bound --------------------------------------------------------------------------------
MAYBE = (int, float, type(None))
BOUND_READS = {"lr": (int, float), "updates": int,
               "staleness": {"histogram": list, "p50": MAYBE, "p95": MAYBE, "max": MAYBE}}  # fmt: skip
"""What ``theory bound`` reads of each method's summary."""


def _read_run(run: Path) -> tuple[Any, dict[str, Any]]:
    config, summary = run / "config.toml", run / "summary.json"
    if not config.is_file() or not summary.is_file():
        raise ConfigError("--run", f"{run} has no config.toml and summary.json (not a run directory)")
    from asyncsgd.experiment.resume import shape_problem

    try:
        methods = json.loads(summary.read_bytes().decode("utf-8"))["methods"]
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, KeyError, TypeError):
        raise ConfigError("--run", f"{summary} is not an asyncsgd summary") from None
    if not isinstance(methods, dict):
        raise ConfigError(str(summary), "is not an asyncsgd summary (methods is not an object)")
    problem = shape_problem(methods, dict.fromkeys(methods, BOUND_READS), "")
    if problem:
        raise ConfigError(str(summary), f"is not an asyncsgd summary ({problem})")
    from asyncsgd.config import load_experiment

    return load_experiment(config), methods


def _method_bound(
    name: str, s: dict[str, Any], config: Any, statistic: str, datasets: dict, cache: dict
) -> tuple[str, dict[str, Any]]:
    """Text and JSON of the bound for one finished method (summary ``s``, run config ``config``)."""
    from asyncsgd.assembly.auto_lr import theory_estimates
    from asyncsgd.assembly.checks import effective_config
    from asyncsgd.assembly.datasets import dataset_key, load_config_dataset
    from asyncsgd.assembly.job import Job
    from asyncsgd.theory import Estimates, Problem, delay_from_histogram, parse_statistic
    from asyncsgd.theory.predict import constants_for
    from asyncsgd.theory.render import bound_dict, bound_text, num

    quantile = parse_statistic(statistic)
    histogram = s["staleness"]["histogram"]
    if not histogram or not sum(histogram):
        raise ConfigError("--run", f"method {name!r} applied no updates")
    delay = delay_from_histogram(histogram, quantile)
    lr = float(s["lr"])
    cfg = effective_config(config.replace(lr=lr))  # an lr = auto run: the rate it resolved to
    key = dataset_key(cfg)
    if key not in datasets:
        datasets[key] = load_config_dataset(cfg)
    job = Job.from_config(cfg, name, dataset=datasets[key])
    recorded = s.get("lr_source", {}).get("estimates")
    if recorded is not None:
        est, origin = Estimates.from_dict(recorded), "recorded in summary.json by lr = auto"
    else:
        est, origin = theory_estimates(job, cache), "measured now at the run's initial point"
    source = f"{'max τ' if quantile is None else f'τ quantile {quantile:g}'} measured in the run"
    problem = Problem(job.samples_per_update, int(s["updates"]), cfg.learners, float(delay), source)
    c = constants_for(est, problem, cfg.theory_lipschitz)
    st = s["staleness"]
    notes = _assumption_notes(cfg)
    data = {
        "staleness": {
            "statistic": statistic,
            "T": delay,
            "p50": st["p50"],
            "p95": st["p95"],
            "max": st["max"],
        },
        "constants_source": origin,
        "lipschitz_source": cfg.theory_lipschitz,
        **bound_dict(c, lr, float(delay), cfg.learners),
        "notes": notes,
    }
    lines = [
        f"{name}: {cfg.model} on {s['dataset']}, lr {num(lr)}, M = {problem.batch_size}, "
        f"K = {problem.updates:,} updates, p = {cfg.learners}",
        f"  staleness: T = {delay} ({source}; p50 {st['p50']}, p95 {st['p95']}, max {st['max']})",
        f"  constants ({origin}): D_f = {num(c.d_f)}, L = {num(c.lipschitz)} ({cfg.theory_lipschitz}), "
        f"σ² = {num(c.sigma2_update * problem.batch_size)} per sample (σ_M² = {num(c.sigma2_update)})",
        bound_text(c, lr, float(delay), cfg.learners),
        *(f"  note: {n}" for n in notes),
    ]
    return "\n".join(lines), data


def bound_(args: argparse.Namespace) -> int:
    from asyncsgd.theory import parse_statistic

    run = Path(args.run)
    exp, summaries = _read_run(run)
    parse_statistic(args.staleness)  # a bad statistic fails before any work
    names = [m.name for m in exp.methods if m.name in summaries]
    if args.method:
        if args.method not in names:
            have = ", ".join(names)
            raise ConfigError("--method", f"no finished method {args.method!r} in {run} (have: {have})")
        names = [args.method]
    configs = {m.name: m.config for m in exp.methods}
    datasets: dict = {}
    cache: dict = {}
    results = {n: _method_bound(n, summaries[n], configs[n], args.staleness, datasets, cache) for n in names}
    if args.json:
        print(_dump({"format": 1, "run": str(run), "methods": {n: data for n, (_, data) in results.items()}}))
    else:
        print("\n\n".join(text for text, _ in results.values()))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("theory", help="predict the learning rate and the cost of p learners (Lian et al.)")
    tsub = p.add_subparsers(dest="theory_command", required=True, metavar="{lr,ratio,bound}")

    lr = tsub.add_parser("lr", help="measure D_f, σ², L and print the predicted learning rate")
    lr.add_argument("config", nargs="?", help="experiment TOML file (default: the embedded default)")
    lr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    lr.add_argument("--methods", help="comma-separated subset of the experiment's methods")
    lr.add_argument("--json", action="store_true", help="machine-readable output")
    lr.set_defaults(func=lr_)

    ratio = tsub.add_parser("ratio", help="ratio of optimal guarantees, p learners against one")
    ratio.add_argument("--p", type=int, nargs="+", metavar="P", help="learners (default: 256 512)")
    ratio.add_argument("--alpha", type=float, nargs="+", metavar="A", help="α values (default: 1 to 10000)")
    ratio.add_argument("--json", action="store_true", help="machine-readable output")
    ratio.add_argument("--plot", metavar="FILE", help="draw the ratio against α (PNG)")
    ratio.set_defaults(func=ratio_)

    bound = tsub.add_parser("bound", help="evaluate the bound with a finished run's constants and staleness")
    bound.add_argument("--run", required=True, metavar="DIR", help="a run directory of `asyncsgd run`")
    bound.add_argument("--method", help="one method of the run (default: all)")
    bound.add_argument("--staleness", default="max", help="T from the run's τ: max, pNN or a fraction")
    bound.add_argument("--json", action="store_true", help="machine-readable output")
    bound.set_defaults(func=bound_)
