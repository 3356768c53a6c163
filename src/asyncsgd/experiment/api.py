"""The Python API: train any ``nn.Module`` on any dataset with the same engines and outputs.

>>> import asyncsgd
>>> result = asyncsgd.train(dataset="synthetic", model="logreg", learners=4, updates=50)
>>> result.summary["updates"]
50
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from asyncsgd.config.files import build_experiment
from asyncsgd.data import Dataset
from asyncsgd.experiment.progress import Progress
from asyncsgd.experiment.runner import ExperimentResult, MethodResult, run_experiment


def train(
    model: nn.Module | str | None = None,
    dataset: Dataset | str | None = None,
    *,
    out: str | Path | None = None,
    methods: dict[str, dict[str, Any]] | None = None,
    progress: bool | None = None,
    **settings: Any,
) -> MethodResult:
    """Train one configuration (or the first of ``methods``) and return its result.

    ``model`` and ``dataset`` are either registered names or objects (any ``nn.Module`` that maps
    a batch of the dataset's inputs to class logits; a :class:`~asyncsgd.data.Dataset`).
    ``settings`` are :class:`~asyncsgd.config.RunConfig` keys. Outputs are written to ``out`` when
    given. ``progress`` as in :func:`compare`.
    """
    return compare(model, dataset, out=out, methods=methods, progress=progress, **settings).methods[0]


def compare(
    model: nn.Module | str | None = None,
    dataset: Dataset | str | None = None,
    *,
    out: str | Path | None = None,
    methods: dict[str, dict[str, Any]] | None = None,
    name: str = "api",
    progress: bool | None = None,
    **settings: Any,
) -> ExperimentResult:
    """Run several methods (name → settings that differ) on the same model and data.

    ``progress``: ``None`` (default) draws ``tqdm.auto`` bars where a person watches (a terminal, a
    notebook) and otherwise logs a line per tenth of each method's budget (and at least every 30 s)
    at INFO on the ``asyncsgd`` logger; ``True`` always bars, ``False`` nothing. The library never
    configures logging, so those lines appear only once the program does, as Python's convention
    for libraries has it (for example ``logging.basicConfig(level=logging.INFO)``); without a
    handler nothing prints.
    """
    base = dict(settings)
    if isinstance(model, str):
        base["model"] = model
    if isinstance(dataset, str):
        base["dataset"] = dataset
    if "epochs" not in base and "updates" not in base:
        base["epochs"] = 1.0
    doc = {"name": name, **base, "methods": [{"name": k, **v} for k, v in (methods or {"run": {}}).items()]}
    exp = build_experiment(doc, source="<python api>")
    shown = Progress(progress)
    try:
        return run_experiment(
            exp,
            Path(out) if out is not None else None,
            dataset=dataset if isinstance(dataset, Dataset) else None,
            model=model if isinstance(model, nn.Module) else None,
            progress=shown,
        )
    finally:
        shown.close()
