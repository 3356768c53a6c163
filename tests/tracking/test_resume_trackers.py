"""A resumed run and its trackers: MLflow gets a new run for each continued method (the interrupted
one stays, KILLED), TensorBoard appends to the method's directory, so its curves run on."""

from __future__ import annotations

import itertools

import pytest

from asyncsgd.config import build_experiment
from asyncsgd.experiment.runner import run_experiment
from tests.experiment.roundrobin import registered

DOC = {
    "name": "resumed", "engine": "roundrobin", "dataset": "synthetic", "model": "mlp", "hidden": [16],
    "learners": 2, "eval_every": 10, "checkpoint_every": 20, "loggers": ["mlflow", "tensorboard"],
    "methods": [{"name": "a", "updates": 20}, {"name": "b", "updates": 60}],
}  # fmt: skip


@pytest.mark.slow
def test_a_resumed_method_opens_a_new_mlflow_run_and_appends_to_tensorboard(tmp_path):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    calls = itertools.count()  # a's 20 pushes, one look after it, then b's: b stops at 46 updates
    with registered():
        exp = build_experiment(DOC, source="test")
        first = run_experiment(exp, out, stop=lambda: next(calls) >= 20 + 1 + 45)
        assert [m.summary["interrupted"] for m in first.methods] == [False, True]
        resumed = run_experiment(exp, out, resume=True)
    assert [m.summary["updates"] for m in resumed.methods] == [20, 60]

    client = MlflowClient(tracking_uri=f"sqlite:///{out.resolve() / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("resumed").experiment_id])

    def steps(run_id: str) -> list[int]:
        return sorted(m.step for m in client.get_metric_history(run_id, "test_accuracy"))

    found = sorted((r.info.run_name, r.info.status, steps(r.info.run_id)) for r in runs)
    assert found == [
        ("a", "FINISHED", [0, 10, 20]),  # finished before: kept, not run again
        ("b", "FINISHED", [50, 60]),  # the continuation, from its checkpoint at 40 updates
        ("b", "KILLED", [0, 10, 20, 30, 40, 46]),  # the interrupted run, as it stopped
    ]
    events = EventAccumulator(str(out / "tensorboard" / "b"), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("test_accuracy")] == [0, 10, 20, 30, 40, 46, 50, 60]
