"""Measurement: the per-push recorder, evaluation, staleness statistics, summaries and plots."""

from asyncsgd.metrics.evaluate import Evaluator
from asyncsgd.metrics.recorder import Recorder
from asyncsgd.metrics.staleness import staleness_summary
from asyncsgd.metrics.summary import FINISHED, build_summary, params_sha256, write_json

__all__ = [
    "FINISHED",
    "Evaluator",
    "Recorder",
    "build_summary",
    "params_sha256",
    "staleness_summary",
    "write_json",
]
