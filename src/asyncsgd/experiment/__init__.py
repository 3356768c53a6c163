"""Running experiments: the runner, graceful interruption and the Python API."""

from asyncsgd.experiment.api import compare, train
from asyncsgd.experiment.runner import ExperimentResult, MethodResult, run_experiment, run_job

__all__ = ["ExperimentResult", "MethodResult", "compare", "run_experiment", "run_job", "train"]
