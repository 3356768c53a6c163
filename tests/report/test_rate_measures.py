"""The measures a rate or speed-up study reads from a run: time to a target accuracy and the
ergodic ‖∇f‖², on hand-written evaluations and on one real run."""

from __future__ import annotations

import math
from typing import Any

import pytest

from asyncsgd.errors import ConfigError
from asyncsgd.experiment.runner import run_job
from asyncsgd.report.measures import MEASURES, measure
from asyncsgd.report.runs import RunView
from asyncsgd.sweep.db import Member
from tests.conftest import make_job


def view(metrics: list[dict[str, Any]], summary: dict[str, Any] | None = None) -> RunView:
    member = Member(0, "downpour", "downpour", {"seed": 0}, "r0", "done", {}, summary, "", 1, 0.0, 1.0)
    return RunView(member, metrics, [])


EVALUATIONS = [
    {"update": 0, "epoch": 0.0, "time": 0.0, "test_accuracy": 0.30},
    {"update": 20, "epoch": 0.5, "time": 1.25, "test_accuracy": 0.70},
    {"update": 40, "epoch": 1.0, "time": 2.5, "test_accuracy": None},  # not evaluated: never counts
    {"update": 60, "epoch": 1.5, "time": 3.75, "test_accuracy": 0.90},
    {"update": 80, "epoch": 2.0, "time": 5.0, "test_accuracy": 0.85},
]


@pytest.mark.parametrize(
    ("target", "seconds", "updates"),
    [("0.7", 1.25, 20), ("0.8", 3.75, 60), ("0.9", 3.75, 60), ("0.95", None, None)],
)
def test_engine_seconds_to_a_target_are_those_of_the_first_evaluation_reaching_it(target, seconds, updates):
    run = view(EVALUATIONS)
    m = measure(f"engine_seconds_to:{target}")
    assert m.value(run) == seconds and measure(f"updates_to:{target}").value(run) == updates
    assert m.name == f"engine_seconds_to:{target}" and m.header == f"engine s to {100 * float(target):g}%"


def test_a_run_that_never_reaches_the_target_has_no_time_rather_than_zero():
    assert measure("engine_seconds_to:0.5").value(view([{"time": 0.0, "test_accuracy": 0.4}])) is None
    assert measure("engine_seconds_to:0.5").value(view([])) is None


@pytest.mark.parametrize("arg", ["", "0", "1.5", "ninety"])
def test_the_target_is_checked_and_named(arg):
    with pytest.raises(ConfigError, match="engine_seconds_to"):
        measure(f"engine_seconds_to:{arg}")


def test_the_three_target_measures_share_one_registration():
    entries = {n: MEASURES.entry(n) for n in ("updates_to", "epochs_to", "engine_seconds_to")}
    assert all(e.meta == {"arg": True} for e in entries.values())
    assert entries["engine_seconds_to"].summary.startswith("engine seconds")
    assert measure("epochs_to:0.9").value(view(EVALUATIONS)) == 1.5


def test_the_ergodic_norm_is_the_mean_over_a_runs_evaluations(synthetic, tmp_path):
    result = run_job(make_job(synthetic, eval_grad_norm=True, updates=40, eval_every=10), tmp_path)
    values = [m["grad_norm_sq"] for m in result.metrics]
    assert len(values) == 5  # updates 0, 10, 20, 30, 40: the evaluation points, not every update
    run = view(result.metrics, result.summary)
    assert measure("grad_norm_sq_ergodic").value(run) == pytest.approx(sum(values) / 5, rel=1e-12)
    assert measure("grad_norm_sq").value(run) == values[-1]
    assert "evaluation" in MEASURES.entry("grad_norm_sq_ergodic").summary
    plain = run_job(make_job(synthetic, updates=20, eval_every=10), tmp_path / "plain")
    assert measure("grad_norm_sq_ergodic").value(view(plain.metrics, plain.summary)) is None
    assert math.isfinite(measure("grad_norm_sq_ergodic").value(run))
