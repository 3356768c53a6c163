"""Every numeric setting against hostile values: does ``asyncsgd run`` answer with one line that
names the setting, and nothing else?

For each int, float and list setting of ``RunConfig`` it tries 0, -1, 2**63, 1e308, nan, inf, -inf
(and a negative and a huge list item), each in a forked child of one process that has imported
asyncsgd (so a case costs milliseconds, not a torch import), under an address-space limit and an
alarm, so a giant allocation or an endless run is caught, not suffered (the ``ray_*`` settings run
without the limit: the Ray daemons a legal value starts reserve more address space than it allows).
Each setting is tried in a context where it matters (``levels`` with ``codec = "qsgd"``,
``theory_*`` with ``lr = "auto"``...).

    python -m benchmarks.bad_settings [--only KEY,KEY] [--mem-gib 6] [--timeout 60]

Outcomes: ``clean`` (exit 2, one ``asyncsgd: error:`` line that names the setting), ``accepted`` (exit 0:
a legal value), ``running`` (still running at the alarm: a legal value with a huge budget), and
the defects ``wrong-key``, ``many-lines``, ``traceback``, ``killed`` (a signal: segfault, out of
memory), ``exit-N``. Writes ``benchmarks/results/bad_settings.json`` and prints the defects.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

from benchmarks.common import write_result

BASE = {
    "name": "probe", "engine": "sim", "dataset": "synthetic", "model": "mlp", "hidden": [16],
    "learners": 2, "batch_size": 16, "lr": 0.1, "updates": 20, "eval_every": 10,
}  # fmt: skip
CONTEXT: dict[str, dict[str, Any]] = {
    "ratio": {"codec": "topk"},
    "levels": {"codec": "qsgd"},
    "bucket": {"codec": "qsgd"},
    "clip": {"codec": "terngrad"},
    "threshold": {"codec": "threshold"},
    "momentum": {"rule": "momentum"},
    "adagrad_eps": {"rule": "adagrad"},
    "dc_lambda": {"remedy": "dc_asgd"},
    "dc_momentum": {"remedy": "dc_asgd_adaptive"},
    "stale_bound": {"remedy": "drop_stale"},
    "local_steps": {"algorithm": "localsgd"},
    "exchange_period": {"algorithm": "easgd"},
    "elastic_alpha": {"algorithm": "easgd"},
    "local_momentum": {"algorithm": "eamsgd"},
    "delay_sigma": {"delay": "lognormal"},
    "staleness": {"schedule": "fixed"},
    "slow_factor": {"slow_learners": 1},
    "vocab_size": {"dataset": "20news", "text_features": "tokens", "model": "textbag"},
    "max_tokens": {"dataset": "20news", "text_features": "tokens", "model": "textbag"},
    "embed_dim": {"dataset": "20news", "text_features": "tokens", "model": "textbag"},
    "epochs": {"updates": 0},
    "shards": {"engine": "local"},
    "learner_threads": {"engine": "local"},
    "timeout": {"engine": "local"},
    "checkpoint_every": {"engine": "local"},
    "ray_cpus_per_learner": {"engine": "ray"},
    "ray_gpus_per_learner": {"engine": "ray"},
    "ray_cpus_per_shard": {"engine": "ray"},
}
AUTO = {"lr": "auto", "theory_points": 2, "theory_steps": 5, "theory_batches": 4, "theory_hvp": 3}
for _key in ("theory_f_low", "theory_points", "theory_steps", "theory_probe_lr", "theory_batches",
             "theory_hvp", "theory_samples"):  # fmt: skip
    CONTEXT[_key] = AUTO
SCALARS = ("0", "-1", str(2**63), "1e308", "nan", "inf", "-inf")
ITEMS = ("[-1]", f"[{2**63}]", "[1e308]", "[]", "[16, 0]")


def numeric_settings() -> dict[str, str]:
    """Every setting whose type is (or may be) a number, or a list of them: name → kind."""
    from asyncsgd.config.settings import declared

    found = {}
    for key, kind in ((s.name, s.type) for s in declared().values()):
        args = typing.get_args(kind)
        if typing.get_origin(kind) is list:
            found[key] = "list"
        elif kind in (int, float) or int in args or float in args:
            found[key] = "number"
    return found


def cases(only: list[str] | None = None) -> list[tuple[str, str]]:
    keys = numeric_settings()
    return [
        (key, value)
        for key, kind in keys.items()
        if not only or key in only
        for value in (ITEMS if kind == "list" else SCALARS)
    ]


def _toml(values: dict[str, Any]) -> str:
    from asyncsgd.config.files import dump_toml

    return dump_toml(values)


def run_case(key: str, value: str, root: Path, mem_bytes: int, timeout: int) -> dict[str, Any]:
    """One case in a forked child: its outcome, exit status and stderr."""
    work = Path(tempfile.mkdtemp(dir=root))
    config = work / "probe.toml"
    config.write_text(_toml({**BASE, **CONTEXT.get(key, {})}))
    err_path = work / "stderr"
    argv = ["run", str(config), "--quiet", "--out", str(work / "out"), "--set", f"{key}={value}"]
    pid = os.fork()
    if pid == 0:  # the child: limits, then the command line in-process
        code = 70
        try:
            if CONTEXT.get(key, {}).get("engine") != "ray":  # Ray's own daemons reserve more
                resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
            signal.alarm(timeout)
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.chdir(work)
            from asyncsgd.cli.main import main

            code = main(argv)
        except BaseException:  # the defect being looked for: print it as a user would see it
            import traceback

            traceback.print_exc()
            code = 71
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    lines = [line for line in err.splitlines() if line.strip()]
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        outcome = "running" if sig == signal.SIGALRM else "killed"
        rc = -sig
    else:
        rc = os.WEXITSTATUS(status)
        if rc == 0:
            outcome = "accepted"
        elif "Traceback" in err or rc == 71:
            outcome = "traceback"
        elif len(lines) != 1:
            outcome = "many-lines"
        elif not lines[0].startswith("asyncsgd: error: ") or key not in lines[0]:
            outcome = "wrong-key"
        else:
            outcome = "clean" if rc == 2 else f"exit-{rc}"
    return {"key": key, "value": value, "outcome": outcome, "rc": rc, "stderr": lines[-3:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated settings (default: every numeric setting)")
    parser.add_argument("--mem-gib", type=float, default=6.0, help="address-space limit of a case")
    parser.add_argument("--timeout", type=int, default=60, help="seconds a case may run")
    args = parser.parse_args()
    import asyncsgd.cli.main  # noqa: F401  (imported once, before the forks)

    only = args.only.split(",") if args.only else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in cases(only):
            row = run_case(key, value, Path(tmp), int(args.mem_gib * 2**30), args.timeout)
            rows.append(row)
            mark = "" if row["outcome"] in ("clean", "accepted", "running") else "  <-- defect"
            print(f"{key:22s} {value:>22s}  {row['outcome']:<10s} {(row['stderr'] or [''])[-1][:90]}{mark}",
                  flush=True)  # fmt: skip
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    print(counts)
    if not only:
        write_result("bad_settings", {"counts": counts, "rows": rows})


if __name__ == "__main__":
    main()
