"""Fault soak of the ``local`` engine: learners killed at random, and the record must still be true.

Each run is ``asyncsgd run`` in a process of its own, as a user starts it (p = 4 learners, the
synthetic task, a budget of a few seconds, a private ``TMPDIR``), with 1 or 2 of its learners killed
by SIGKILL at random times; the runs cycle through four setups: with and without ``respawn``, with
1 and 2 shards. Each run is judged on:

* finished: the command ended by itself and wrote ``summary.json`` (its exit status is kept);
* hang: it had not exited after ``FAULT_SOAK_HANG`` seconds (it is then killed);
* wrong label: its ``stop_reason`` or update count is not the budget's, although at most 2 of 4
  learners were killed and the others could finish it;
* unaccounted updates: ``accounting`` is not balanced, or the update numbers of the trace's applied
  pushes and of the torn and lost updates are not exactly 1..updates, or a shard's version is not
  the update count less the torn and lost updates that never reached that shard;
* leftovers: a process of the run still alive 2 s after the command exited, or anything left in
  its ``TMPDIR``;
* short of kills: the run ended before all its kills were made (the budget is then too small for
  the machine: it would not be a fault soak).

    python -m benchmarks.fault_soak    # FAULT_SOAK_RUNS=20 FAULT_SOAK_UPDATES=3000 FAULT_SOAK_KILLS=1,2

Target: every run finished, and no hang, wrong label, unaccounted update or leftover.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import chosen, write_result

RUNS = int(os.environ.get("FAULT_SOAK_RUNS", 20))
UPDATES = int(os.environ.get("FAULT_SOAK_UPDATES", 3000))
SEED = int(os.environ.get("FAULT_SOAK_SEED", 0))
HANG = float(os.environ.get("FAULT_SOAK_HANG", 180))
GAP = float(os.environ.get("FAULT_SOAK_GAP", 0.6))
"""Each kill comes a random 0.05 to this many seconds after the learners started or the last kill
(well within the budget's training time, so that every run does get its kills)."""
KILLS = chosen("FAULT_SOAK_KILLS", (1, 2))
"""How many learners a run kills: one of these, at random."""
LEARNERS = 4
SETUPS = ({"respawn": False, "shards": 1}, {"respawn": True, "shards": 1},
          {"respawn": False, "shards": 2}, {"respawn": True, "shards": 2})  # fmt: skip

CONFIG = """
name = "soak"
engine = "local"
dataset = "synthetic"
model = "mlp"
hidden = [16]
learners = {learners}
updates = {updates}
eval_every = {eval_every}
respawn = {respawn}
shards = {shards}
timeout = 30
[[methods]]
name = "run"
"""


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for child in children(pid):
        found |= {child, *descendants(child)}
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def learner_pids(driver: int) -> list[int]:
    """The run's learner processes: the children of its forkserver."""
    for pid in children(driver):
        try:
            if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return sorted(p for p in children(pid) if alive(p))
        except OSError:
            continue
    return []


def check_accounting(method: Path, summary: dict[str, Any]) -> list[str]:
    """What does not add up (empty: every update accounted for)."""
    problems = []
    acc = summary.get("accounting")
    if not acc:
        return ["no accounting in summary.json"]
    if not acc["balanced"]:
        problems.append("accounting not balanced")
    with open(method / "trace.csv") as f:
        applied = [int(r["version"]) for r in csv.DictReader(f) if r["applied"] == "1"]
    cut = [e["update"] for e in acc["torn_updates"] + acc["lost_updates"]]
    if sorted(applied + cut) != list(range(1, acc["updates"] + 1)):
        problems.append("trace and torn/lost update numbers are not exactly 1..updates")
    for s, version in enumerate(summary["engine_info"]["shard_versions"]):
        missing = sum(s in e["missing_shards"] for e in acc["torn_updates"] + acc["lost_updates"])
        if version != acc["updates"] - missing:
            problems.append(f"shard {s} at version {version}, expected {acc['updates'] - missing}")
    return problems


def soak_one(k: int, rng: random.Random, folder: Path) -> dict[str, Any]:
    setup = SETUPS[k % len(SETUPS)]
    work = folder / f"run{k}"
    scratch = work / "tmp"
    scratch.mkdir(parents=True)
    (work / "exp.toml").write_text(CONFIG.format(
        learners=LEARNERS, updates=UPDATES, eval_every=max(1, UPDATES // 3),
        respawn=str(setup["respawn"]).lower(), shards=setup["shards"],
    ))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(scratch)}
    args = ["run", str(work / "exp.toml"), "--out", str(work / "out"), "--quiet"]
    started = time.monotonic()
    driver = subprocess.Popen([sys.executable, "-m", "asyncsgd.cli.main", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    pids: set[int] = set()
    while len(learner_pids(driver.pid)) < LEARNERS and driver.poll() is None:
        pids |= descendants(driver.pid)
        time.sleep(0.02)
    ready = time.monotonic()
    plan = list(itertools.accumulate(rng.uniform(0.05, GAP) for _ in range(rng.choice(KILLS))))
    kills = 0
    for at in plan:
        while time.monotonic() - ready < at and driver.poll() is None:
            pids |= descendants(driver.pid)
            time.sleep(0.01)
        victims = learner_pids(driver.pid)
        if driver.poll() is not None or not victims:
            break
        try:
            os.kill(rng.choice(victims), signal.SIGKILL)
            kills += 1
        except ProcessLookupError:
            pass
    hang = False
    while driver.poll() is None:
        pids |= descendants(driver.pid)
        if time.monotonic() - started > HANG:
            hang = True
            for pid in [driver.pid, *pids]:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    driver.wait()
    err = driver.stderr.read() if driver.stderr else ""
    ended = time.monotonic()
    while time.monotonic() - ended < 2.0 and ([p for p in pids if alive(p)] or list(scratch.iterdir())):
        time.sleep(0.05)
    left_processes = [p for p in pids if alive(p)]
    for pid in left_processes:
        os.kill(pid, signal.SIGKILL)
    left_files = [p.name for p in scratch.iterdir()]
    method = work / "out" / "run"
    written = method / "summary.json"
    summary = json.loads(written.read_text()) if written.exists() else None
    row: dict[str, Any] = {
        **setup, "planned_kills": len(plan), "kills": kills, "exit": driver.returncode, "hang": hang,
        "seconds": round(ended - started, 2),
        "finished": not hang and summary is not None,
        "left_processes": len(left_processes), "left_files": left_files,
        "error": err.strip().splitlines()[-1] if err.strip() else "",
    }  # fmt: skip
    if summary is not None:
        acc = summary.get("accounting") or {}
        row |= {
            "stop_reason": summary["stop_reason"], "updates": summary["updates"],
            "wrong_label": wrong_label(setup, kills, summary),
            "problems": check_accounting(method, summary),
            "deaths": len(summary.get("engine_info", {}).get("deaths", [])),
            "torn": acc.get("torn"), "lost": acc.get("lost"), "unrecorded": acc.get("unrecorded"),
        }  # fmt: skip
    return row


def wrong_label(setup: dict[str, Any], kills: int, summary: dict[str, Any]) -> bool:
    """Without respawn, killing every learner must end the run as ``learners_lost``; otherwise a
    learner is left to finish the budget, and the run must say so."""
    if not setup["respawn"] and kills >= LEARNERS:
        return summary["stop_reason"] != "learners_lost" or summary["updates"] >= UPDATES
    return summary["stop_reason"] != "budget" or summary["updates"] != UPDATES


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts the target is about, from the runs' rows."""
    counts = {
        "runs": len(rows),
        "finished": sum(bool(r["finished"]) for r in rows),
        "hangs": sum(bool(r["hang"]) for r in rows),
        "wrong_labels": sum(bool(r.get("wrong_label")) for r in rows),
        "unaccounted": sum(bool(r.get("problems")) for r in rows),
        "leftovers": sum(bool(r["left_processes"] or r["left_files"]) for r in rows),
        "kills": sum(r["kills"] for r in rows),
        "short_of_kills": sum(r["kills"] < r["planned_kills"] for r in rows),
        "torn": sum(r.get("torn") or 0 for r in rows),
        "lost": sum(r.get("lost") or 0 for r in rows),
    }
    bad = ("hangs", "wrong_labels", "unaccounted", "leftovers", "short_of_kills")
    counts["met"] = counts["finished"] == counts["runs"] and not any(counts[k] for k in bad)
    return counts


def main() -> dict[str, Any]:
    load = os.getloadavg()[0]
    rng = random.Random(SEED)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fault-soak-") as folder:
        for k in range(RUNS):
            rows.append(soak_one(k, rng, Path(folder)))
            r = rows[-1]
            print(f"run {k + 1:2d}/{RUNS} respawn={r['respawn']!s:5} shards={r['shards']} kills={r['kills']} "
                  f"exit={r['exit']} {r.get('stop_reason', '-')} torn={r.get('torn')} lost={r.get('lost')} "
                  f"problems={r.get('problems')} left={r['left_processes']}/{len(r['left_files'])} "
                  f"{r['seconds']} s {r['error']}", flush=True)  # fmt: skip
    result = {
        "runs": RUNS, "updates": UPDATES, "learners": LEARNERS, "seed": SEED, "gap": GAP,
        "kill_choices": list(KILLS),
        **verdict(rows), "rows": rows, "load_average": [load, os.getloadavg()[0]],
    }  # fmt: skip
    print({k: v for k, v in result.items() if k not in ("rows",)})
    # another number of runs, budget or kills is not the table docs/engines.md quotes
    write_result("fault_soak", result, subset=(RUNS, UPDATES, KILLS) != (20, 3000, (1, 2)))
    return result


if __name__ == "__main__":
    main()
