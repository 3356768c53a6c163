"""Experiment trackers: the names ``loggers`` accepts, the package each needs, and its settings.

Trackers stand above the assembly (they receive what the recorder measures), so they are named
here by where they live and imported only when a run opens one; a tracker whose library is not
installed is refused when the config is checked, in one line naming the extra to install.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry
from asyncsgd.vocabulary.settings import setting

if TYPE_CHECKING:
    from asyncsgd.metrics.trackers import Tracker

TRACKERS: Registry[type[Tracker]] = Registry("tracker")
TRACKERS.register_lazy(
    "tensorboard", "asyncsgd.metrics.trackers.tensorboard:TensorBoardTracker",
    "TensorBoard event files (no TensorFlow needed)", package="tensorboard", extra="tensorboard",
    elsewhere="",
)  # fmt: skip
TRACKERS.register_lazy(
    "mlflow", "asyncsgd.metrics.trackers.mlflow_store:MlflowTracker",
    "an MLflow tracking store (a local file store by default)", package="mlflow", extra="mlflow",
    elsewhere="mlflow_uri",
)  # fmt: skip

LOGGERS = setting(
    "loggers",
    [],
    "experiment trackers fed every evaluation's metrics and the run's settings and summary, e.g. "
    '["tensorboard", "mlflow"]; each needs its extra (pip install "asyncsgd[tensorboard]")',
    kind=list[str],
    choices=TRACKERS.names(),
)
MLFLOW_URI = setting(
    "mlflow_uri",
    "",
    'loggers = ["mlflow"]: the tracking URI ("": the SQLite store mlflow.db beside the run\'s method '
    "directories)",
)
TRACKING = (LOGGERS, MLFLOW_URI)
"""Settings that say where a run is reported, never what it computes: no run id depends on them."""


def file_trackers(config: Any) -> list[str]:
    """The trackers of ``config.loggers`` that write beside the run's files, so need an output
    directory: all but one whose store a setting (its ``elsewhere``, e.g. ``mlflow_uri``) puts
    elsewhere. A sweep checks this when it plans, not in each run's worker."""
    return [
        name for name in config.loggers
        if not (key := TRACKERS.meta(name)["elsewhere"]) or not getattr(config, key)
    ]  # fmt: skip


def check_trackers(loggers: list[str]) -> None:
    """ConfigError naming ``loggers`` for a tracker listed twice or whose package is not installed
    (looked up, not imported: importing MLflow takes seconds)."""
    for i, name in enumerate(loggers):
        if name in loggers[:i]:
            raise ConfigError("loggers", f"{name!r} is listed twice")
    for name in loggers:
        meta = TRACKERS.meta(name)
        if importlib.util.find_spec(meta["package"]) is None:
            raise ConfigError(
                "loggers", f"{name} needs the {meta['package']} package: "
                f"pip install \"asyncsgd[{meta['extra']}]\"",
            )  # fmt: skip
