"""TensorBoard: event files written by torch's ``SummaryWriter``, which needs the ``tensorboard``
package and not TensorFlow (``pip install "asyncsgd[tensorboard]"``).

Each evaluation's measures are scalars at step = update (tags as in ``metrics.csv``:
``test_accuracy``, ``train_loss``, ...), the summary's numbers are scalars ``summary/<key>`` at the
last update, and the settings are a text entry ``settings`` (a table). ``tensorboard --logdir
<out>/tensorboard`` shows each method as a run.
"""

from __future__ import annotations

import json
from typing import Any

from asyncsgd.config.schema import RunConfig
from asyncsgd.metrics.trackers import Place, Tracker, metric_values


class TensorBoardTracker(Tracker):
    def __init__(self, place: Place, config: RunConfig) -> None:
        super().__init__(place, config)
        self.log_dir = place.beside("tensorboard") / "tensorboard" / place.run  # refused before the import

        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(log_dir=str(self.log_dir))
        self._step = 0

    def settings(self, values: dict[str, Any]) -> None:
        rows = [f"| {key} | {json.dumps(value)} |" for key, value in values.items()]
        self._writer.add_text("settings", "\n".join(["| setting | value |", "|---|---|", *rows]), 0)

    def metrics(self, row: dict[str, float]) -> None:
        self._step = int(row["update"])
        for key, value in metric_values(row):
            self._writer.add_scalar(key, value, self._step)
        self._writer.flush()

    def summary(self, values: dict[str, float], stop_reason: str) -> None:
        for key, value in values.items():
            self._writer.add_scalar(f"summary/{key}", value, self._step)
        self._writer.add_text("stop_reason", stop_reason, self._step)

    def close(self) -> None:
        self._writer.close()
