"""Part (g): the simulator against a real engine. Parts (a), (b), (e) and (f) run in the simulator;
here p learner processes of the ``local`` engine train on this machine, the simulator replays
their recorded schedule (each push computed at the parameters τ updates old, in the recorded
order) and runs once more with its own model of compute times. The replay is exact when it
applies the same pushes with the same τ and ends with the same parameters (``params_sha256``);
the simulator's own model is compared with the real engine by seed (Student's t, margin
:data:`~asyncsgd.reproduce.cong2016.plan.LEVEL`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asyncsgd.report.runs import RunView, SweepView
from asyncsgd.report.spec import Figure
from asyncsgd.reproduce.cong2016.plan import ENGINES, LEVEL
from asyncsgd.reproduce.cong2016.speedup import per_seed
from asyncsgd.reproduce.document import Document
from asyncsgd.reproduce.results import StudyResults, aggregate, cell, select, settings_line
from asyncsgd.stats import judge, paired
from asyncsgd.sweep.db import ResultsDB
from asyncsgd.sweep.replay import pushes_table, recorded_pushes

LOCAL, REPLAY, SIMULATED = "local", "replay", "simulated"
NAMES = {LOCAL: "local engine (processes)", REPLAY: "simulator, replaying the local run's schedule",
         SIMULATED: "simulator, its own delay model"}  # fmt: skip


@dataclass(frozen=True)
class Replay:
    """One seed: the local run, its replay, and whether the replay was exact."""

    seed: int
    local: float | None
    replay: float | None
    pushes: int | None
    """Pushes of the local run (None: not recorded)."""
    same_tau: bool | None
    """The replay handled the same pushes (learner, τ, accepted) in the same order (None: unknown)."""
    first_difference: int | None
    """The first push (from 1) where the two sequences differ."""
    same_params: bool | None

    @property
    def difference(self) -> float | None:
        return None if self.local is None or self.replay is None else self.replay - self.local


def _sha(run: RunView) -> str | None:
    return run.summary.get("params_sha256")


def first_difference(a: Sequence[tuple[int, int, int]], b: Sequence[tuple[int, int, int]]) -> int | None:
    """The first position (from 1) where two push sequences differ, None when they are equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b)) + 1


def replays(view: SweepView, pushes: Callable[[str], str | None]) -> list[Replay]:
    """One :class:`Replay` per seed that has a finished local run; ``pushes`` reads a run's
    recorded pushes by run id."""
    out = []
    local = {int(r.setting("seed")): r for r in select(view.runs, method=LOCAL)}
    replay = {int(r.setting("seed")): r for r in select(view.runs, method=REPLAY)}
    acc_local, acc_replay = (
        per_seed(list(local.values()), "test_accuracy"),
        per_seed(list(replay.values()), "test_accuracy"),
    )
    for seed in sorted(local):
        mine, theirs = local[seed], replay.get(seed)
        a = pushes(mine.member.run_id)
        b = pushes(theirs.member.run_id) if theirs is not None else None
        seq_a, seq_b = (pushes_table(text) if text else None for text in (a, b))
        known = seq_a is not None and seq_b is not None
        diff = first_difference(seq_a, seq_b) if seq_a is not None and seq_b is not None else None
        out.append(Replay(
            seed, acc_local.get(seed), acc_replay.get(seed), len(seq_a) if seq_a is not None else None,
            (diff is None) if known else None, diff,
            (_sha(mine) == _sha(theirs)) if theirs is not None and _sha(mine) and _sha(theirs) else None,
        ))  # fmt: skip
    return out


COLUMNS = (("test_accuracy", 1), ("tau_mean", 2), ("tau_p95", 1), ("tau_max", 1), ("wall_seconds", 1))
"""Measures of the table of run kinds, with their digits."""


def _same_tau(r: Replay) -> str:
    return _yes(r.same_tau) + (
        "" if r.first_difference is None else f" (first differs: push {r.first_difference})"
    )


def _yes(flag: bool | None) -> str:
    return "–" if flag is None else "yes" if flag else "no"


def _count(rows: Sequence[Replay], name: str) -> str:
    flags = [getattr(r, name) for r in rows]
    return f"{sum(1 for f in flags if f)} of {len(flags)}"


def engines_section(doc: Document, res: StudyResults) -> None:
    view = res.view(ENGINES)
    if not select(view.runs, method=LOCAL):
        return
    doc.heading("(g) The simulator against a real engine")
    keys = ("dataset", "model", "hidden", "batch_size", "lr", "learners", "updates", "epochs")
    doc.paragraph(
        f"Every other part runs in the simulator. Here {settings_line(view, keys)}: the `local` engine's "
        "learner processes train on this machine while its server records every push (learner, τ); "
        'the simulator then replays that schedule (`schedule = "trace"`: each push computed at the '
        "parameters τ updates old, in the recorded order) and runs once more with its own model of "
        "compute times (the exponential model of parts (a), (b), (e), (f)). The local runs go one at a "
        "time, with no other run of the study beside them.",
    )
    with ResultsDB(res.db_path, create=False) as db:
        rows = replays(view, lambda run_id: recorded_pushes(db, run_id))
    doc.table(
        ["seed", "local test (%)", "replay test (%)", "replay − local", "pushes", "same pushes and τ",
         "same parameters"],
        [[str(r.seed), _num(r.local), _num(r.replay), _num(r.difference, "+.2f"), _num(r.pushes, "d"),
          _same_tau(r), _yes(r.same_params)] for r in rows],
        caption="The local run and its replay, per seed (final test accuracy).",
    )  # fmt: skip
    groups = [(NAMES[m], select(view.runs, method=m)) for m in (LOCAL, REPLAY, SIMULATED)]
    doc.table(
        ["run", "test acc (%)", "τ mean", "τ p95", "τ max", "wall s"],
        [[name, *(cell(aggregate(runs, k), d) for k, d in COLUMNS)] for name, runs in groups if runs],
        caption="Mean ± std over seeds; wall s: seconds the run took on this machine (simulating, for the "
        "simulator).",
    )
    fig = Figure(
        "curve",
        y="test_accuracy",
        x="update",
        facet="seed",
        lines=("method",),
        title="Test accuracy against updates: local run, its replay, the simulator's model",
    )
    doc.image(
        res.figure(ENGINES, fig),
        "Test accuracy against updates, one panel per seed (where the replay is "
        "exact, its line covers the local run's)",
    )
    stale = Figure("staleness", facet="method", title="Staleness of applied pushes, one panel per run kind")
    doc.image(
        res.figure(ENGINES, stale), "Staleness of applied pushes: local engine, replay, simulator's model"
    )
    doc.bullets(findings(rows, select(view.runs, method=LOCAL), select(view.runs, method=SIMULATED)))


def _num(value: float | int | None, fmt: str = ".2f") -> str:
    return "–" if value is None else format(value, fmt)


def findings(rows: Sequence[Replay], local: list[RunView], simulated: list[RunView]) -> list[str]:
    """What the replay and the simulator's own model show against the real engine."""
    out = []
    diffs = [r.difference for r in rows if r.difference is not None]
    if rows:
        largest = max((abs(d) for d in diffs), default=None)
        gap = f"at most {largest:.2f} points in absolute value" if largest else "0 in every seed"
        exact = all(r.same_params for r in rows)
        out.append(
            f"Replay: the same pushes with the same τ in {_count(rows, 'same_tau')} seeds and bit-identical "
            f"final parameters in {_count(rows, 'same_params')}; final test accuracy replay − local: "
            + ("–" if largest is None else gap)
            + ". Given the real engine's schedule, the simulator "
            + (
                "recomputes the real run exactly."
                if exact
                else "does not recompute it exactly (see the table)."
            )
        )
    d = paired(_finite(per_seed(simulated, "test_accuracy")), _finite(per_seed(local, "test_accuracy")))
    if d.mean is not None:
        j = judge(d, LEVEL)
        ci = "" if j.interval is None else f", 90% interval [{j.interval[0]:+.2f}, {j.interval[1]:+.2f}]"
        tau_local, tau_sim = aggregate(local, "tau_mean").mean, aggregate(simulated, "tau_mean").mean
        taus = (
            "" if tau_local is None or tau_sim is None else f"; mean τ {tau_sim:.2f} against {tau_local:.2f}"
        )
        fresh = [fresh_share(runs) for runs in (simulated, local)]
        if None not in fresh:
            taus += f", τ = 0 for {fresh[0]:.0%} of applied pushes against {fresh[1]:.0%}"
        out.append(
            f"The simulator's own delay model against the local engine: final test accuracy {d.mean:+.2f} "
            f"points (n = {d.n}{ci}): **{j.outcome}** at a margin of {LEVEL:g} point{taus}. Its schedule "
            "is drawn, not recorded, so it differs from the real one push by push."
        )
    return out


def fresh_share(runs: Sequence[RunView]) -> float | None:
    """The share of applied pushes with τ = 0 over ``runs`` (their histograms pooled)."""
    total = sum(sum(r.histogram) for r in runs)
    return sum(r.histogram[0] for r in runs if r.histogram) / total if total else None


def _finite(values: dict[int, float | None]) -> dict[int, float]:
    return {k: v for k, v in values.items() if v is not None}
