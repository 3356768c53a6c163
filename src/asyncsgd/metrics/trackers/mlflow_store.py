"""MLflow: one MLflow run per method, in the experiment named after the run's experiment (or
sweep), in the store ``mlflow_uri`` names (default: the SQLite store ``mlflow.db`` beside the
method directories, artifacts in ``mlartifacts/``: MLflow 3 refuses its older file store unless
told otherwise; ``pip install "asyncsgd[mlflow]"``).

The settings are the run's params (every resolved setting), each evaluation's measures are
metrics at step = update (keys as in ``metrics.csv``), the summary's numbers are metrics
``summary.<key>``. It talks through its own ``MlflowClient``: nothing of MLflow's process-wide
state (its tracking URI, an active run) is set. A resumed run (``asyncsgd run --resume``) opens
a new MLflow run of the same name, holding what follows the checkpoint; the interrupted one stays,
ended ``KILLED``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from asyncsgd.config.schema import RunConfig
from asyncsgd.metrics.summary import FINISHED
from asyncsgd.metrics.trackers import Place, Tracker, metric_values

PARAMS_PER_CALL = 100
"""MLflow takes at most 100 params (and 1000 metrics) in one ``log_batch``."""
STATUS = {"interrupted": "KILLED", "aborted": "KILLED", **dict.fromkeys(FINISHED, "FINISHED")}
"""MLflow's end status of a run, by ``stop_reason``; any other reason ends it FAILED."""


class MlflowTracker(Tracker):
    def __init__(self, place: Place, config: RunConfig) -> None:
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        super().__init__(place, config)
        self._metric, self._param = Metric, Param
        here = None if config.mlflow_uri else place.beside("mlflow").resolve()
        self.uri = config.mlflow_uri or f"sqlite:///{here / 'mlflow.db'}"
        artifacts = None if here is None else (here / "mlartifacts").as_uri()
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(place.experiment)
        if found is not None:
            experiment = found.experiment_id
        else:
            try:
                experiment = self.client.create_experiment(place.experiment, artifact_location=artifacts)
            except MlflowException:  # a sweep worker beside this one made it first
                experiment = self.client.get_experiment_by_name(place.experiment).experiment_id
        run = self.client.create_run(experiment, run_name=place.run, tags={"asyncsgd.method": place.run})
        self.run_id = run.info.run_id
        self._status = "FAILED"  # until a summary says otherwise
        self._step = 0

    def settings(self, values: dict[str, Any]) -> None:
        params = [self._param(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()]
        for start in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=params[start : start + PARAMS_PER_CALL])

    def metrics(self, row: dict[str, float]) -> None:
        self._step = int(row["update"])
        self._log(dict(metric_values(row)))

    def summary(self, values: dict[str, float], stop_reason: str) -> None:
        self._log({f"summary.{k}": v for k, v in values.items()})
        self.client.set_tag(self.run_id, "asyncsgd.stop_reason", stop_reason)
        self._status = STATUS.get(stop_reason, "FAILED")

    def _log(self, values: dict[str, float]) -> None:
        now = int(time.time() * 1000)
        batch = [self._metric(k, v, now, self._step) for k, v in values.items()]
        for start in range(0, len(batch), 10 * PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, metrics=batch[start : start + 10 * PARAMS_PER_CALL])

    def close(self) -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, self._status)
            self.run_id = ""
