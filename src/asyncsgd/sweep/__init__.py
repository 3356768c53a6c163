"""Sweeps: a grid of runs executed in parallel worker processes, resumable, recorded in SQLite."""

from asyncsgd.sweep.db import Member, Outcome, ResultsDB, Session
from asyncsgd.sweep.runner import SweepProgress, run_sweep
from asyncsgd.sweep.spec import PlannedRun, Sweep, build_sweep, load_sweep, run_id

__all__ = [
    "Member",
    "Outcome",
    "PlannedRun",
    "ResultsDB",
    "Session",
    "Sweep",
    "SweepProgress",
    "build_sweep",
    "load_sweep",
    "run_id",
    "run_sweep",
]
