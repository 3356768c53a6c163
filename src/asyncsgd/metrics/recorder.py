"""The recorder: the engine's :class:`~asyncsgd.engines.base.Monitor` and the run's bookkeeping.

It streams one trace row per push to ``trace.csv`` and one row per evaluation to ``metrics.csv``
(flushed as they come, so an interrupted run keeps everything measured), and accumulates the
staleness histogram, bytes and the time breakdown for ``summary.json``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import math
import numbers
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from asyncsgd.errors import ConfigError, OutputError
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import PHASES, Timing

TRACE_COLUMNS = (
    "push_index", "learner", "pulled_version", "version", "tau", "accepted", "applied",
    "bytes_up", "bytes_down", "loss", "grad_norm", "lr", "end_s", *(f"{p}_s" for p in PHASES), "reason",
)  # fmt: skip
"""One row per push: its number (from 1), learner, versions and τ (in updates), 0/1 flags, bytes,
loss, gradient norm and rate, then engine time at its end and the seconds of each phase (``_s``)."""
METRIC_COLUMNS = (
    "update", "samples", "epoch", "time", "wall", "running_loss",
    "train_loss", "train_accuracy", "test_loss", "test_accuracy", "grad_norm_sq",
)  # fmt: skip
VALIDATION_COLUMNS = ("val_loss", "val_accuracy")
"""Columns ``metrics.csv`` adds after :data:`METRIC_COLUMNS` when a validation split is held out."""
STALL_MIN = 100
"""Rejected pushes in a row that stop a run (at least; 10 per learner): ``diverged`` when every one
was NaN/Inf, else ``stalled``."""
_LATER_COUNT = "_non_finite_run"
"""A count checkpoints hold since it was added; one written before lacks it and resumes from 0."""


def metric_columns(validation: bool) -> tuple[str, ...]:
    """The columns of ``metrics.csv``: the validation ones only where a split is held out, so a run
    without one writes the file it always wrote."""
    return (*METRIC_COLUMNS, *VALIDATION_COLUMNS) if validation else METRIC_COLUMNS


def trace_row(push: int, record: ApplyRecord, timing: Timing, loss: float) -> list[Any]:
    """The fields of push number ``push``'s row of ``trace.csv``, as the csv writer takes them."""
    return [
        push, record.learner, record.pulled_version, record.version, record.tau,
        int(record.accepted), int(record.applied), record.nbytes, timing.bytes_down,
        f"{loss:.6g}", f"{record.grad_norm:.6g}", f"{record.lr:.6g}", f"{timing.end:.6f}",
        f"{timing.pull:.6g}", f"{timing.compute:.6g}", f"{timing.compress:.6g}",
        f"{timing.push:.6g}", f"{timing.wait:.6g}", f"{timing.apply:.6g}", record.reason,
    ]  # fmt: skip


def _number(value: Any) -> int | float:
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _cut(path: Path, lines: int) -> int:
    """Keep the first ``lines`` complete lines of ``path`` (a torn last line goes); how many remain."""
    with path.open("r+b") as f:
        kept = 0
        while kept < lines:
            line = f.readline()
            if not line.endswith(b"\n"):
                f.seek(-len(line), 1)
                break
            kept += 1
        f.truncate()
    return kept


def check_log(path: Path, columns: tuple[str, ...], rows: int) -> None:
    """Refuse (one line naming ``path``) a log that lacks these columns or ``rows`` complete rows:
    what a resumed run checks before it cuts the log back to the rows its checkpoint counts."""
    if not path.is_file():
        raise ConfigError(str(path), f"is missing (the checkpoint counts {rows} rows in it)")
    try:
        with path.open("rb") as f:
            header = f.readline().rstrip(b"\r\n").decode("utf-8")
            if header != ",".join(columns):
                raise ConfigError(str(path), "does not have the columns this asyncsgd writes")
            found = 0
            while found < rows and (chunk := f.read(1 << 20)):
                found += chunk.count(b"\n")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), f"cannot be read ({type(err).__name__})") from None
    if found < rows:
        raise ConfigError(str(path), f"holds {found} rows, the checkpoint counts {rows}: not this run's log")


class _CsvLog:
    def __init__(
        self, path: Path | None, columns: tuple[str, ...], flush_every: int, keep: int | None = None
    ) -> None:
        """A CSV log; with ``keep``, continue an existing file after its first ``keep`` rows."""
        self._file: IO[str] | None = None
        self.rows = 0
        self.flush_every = flush_every
        if path is not None and keep is not None:
            lines = _cut(path, keep + 1) if path.exists() else 0
            self._file = path.open("a", newline="")
            self._writer = csv.writer(self._file)
            if not lines:
                self._writer.writerow(columns)
            self.rows = max(lines - 1, 0)
        elif path is not None:
            self._file = path.open("w", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(columns)

    def write(self, row: list[Any]) -> None:
        self._emit(row, joined=False)

    def write_line(self, line: str) -> None:
        """A row already joined as the csv writer would (fields that need no quoting, ``\r\n``):
        one ``write`` call instead of the writer's per-field conversion."""
        self._emit(line, joined=True)

    def _emit(self, row: Any, joined: bool) -> None:
        self.rows += 1
        if self._file is not None:
            try:
                (self._file.write if joined else self._writer.writerow)(row)
                if self.rows % self.flush_every == 0:
                    self._file.flush()
            except OSError as err:
                raise self._failed(err) from None

    def flush(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as err:
                raise self._failed(err) from None

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as err:
                raise self._failed(err) from None
            self._file = None

    def _failed(self, err: OSError) -> OutputError:
        """A failed write (disk full) as one line naming the log; the log is dropped, so closing
        it on the way out does not hide the first error behind a second."""
        file, self._file = self._file, None
        with contextlib.suppress(OSError):
            file.close()  # type: ignore[union-attr]
        return OutputError(f"cannot write {getattr(file, 'name', 'a log')}: {err.strerror or err}")


class Recorder:
    def __init__(
        self,
        out_dir: Path | None,
        n_train: int,
        eval_every: int,
        evaluate: Callable[[torch.Tensor], dict[str, float]],
        num_learners: int,
        stop: Callable[[], bool] = lambda: False,
        progress: Callable[[int, int], None] | None = None,
        resume: dict[str, Any] | None = None,
        validation: bool = False,
    ) -> None:
        """With ``resume`` (a :meth:`state_dict`), continue a checkpointed run's logs and totals;
        with ``validation``, ``metrics.csv`` has the :data:`VALIDATION_COLUMNS` too."""
        self.n_train = n_train
        self.columns = metric_columns(validation)
        self.eval_every = eval_every
        self._evaluate = evaluate
        self._stop = stop
        self._progress = progress
        self.stall_limit = max(STALL_MIN, 10 * num_learners)
        keep_trace = resume["pushes"] if resume else None
        keep_metrics = len(resume["metrics"]) if resume else None
        self.trace = _CsvLog(out_dir / "trace.csv" if out_dir else None, TRACE_COLUMNS, 4096, keep_trace)
        self.metrics_log = _CsvLog(
            out_dir / "metrics.csv" if out_dir else None, self.columns, 1, keep_metrics
        )
        self.metrics: list[dict[str, float]] = []
        self.tau = Counter[int]()
        self.per_learner: dict[int, Counter[str]] = defaultdict(Counter)
        self.phase_totals: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(PHASES, 0.0))
        self.pushes = 0
        self.samples = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.last_update = 0
        self._loss_sum = 0.0
        self._loss_n = 0
        self._last_eval = -1
        self._rejected_run = 0
        self._non_finite_run = 0
        self.stop_reason = ""
        self.wall_start = time.perf_counter()
        self.listeners: list[Callable[[dict[str, float]], None]] = []
        """Called with each evaluation's row once ``metrics.csv`` has it (trackers, progress)."""
        self.checkpoints: Any = None
        """Where checkpoints go (set by the runner when the run saves them)."""
        self.resumed_engine_state: dict[str, Any] | None = None
        self.wall_before = 0.0
        """Wall seconds of the run's earlier sessions (a resumed run)."""
        if resume is not None:
            self.load_state_dict(resume)

    # -- Monitor -------------------------------------------------------------------------------
    def on_push(self, record: ApplyRecord, timing: Timing, loss: float, samples: int) -> None:
        self.pushes += 1
        self.samples += samples
        self.bytes_up += record.nbytes
        self.bytes_down += timing.bytes_down
        counts = self.per_learner[record.learner]
        counts["pushes"] += 1
        counts["bytes_up"] += record.nbytes
        counts["bytes_down"] += timing.bytes_down
        totals = self.phase_totals[record.learner]
        totals["pull"] += timing.pull
        totals["compute"] += timing.compute
        totals["compress"] += timing.compress
        totals["push"] += timing.push
        totals["wait"] += timing.wait
        totals["apply"] += timing.apply
        if record.accepted:
            self._rejected_run = self._non_finite_run = 0
            if record.applied:
                counts["applied"] += 1
                self.tau[record.tau] += 1
                self.last_update = record.version
            else:
                counts["dropped"] += 1
        else:
            self._rejected_run += 1
            self._non_finite_run = self._non_finite_run + 1 if record.code == "non_finite" else 0
            counts["rejected"] += 1
        if math.isfinite(loss):
            self._loss_sum += loss
            self._loss_n += 1
        if record.reason:  # free text: the csv writer quotes it where needed
            self.trace.write(trace_row(self.pushes, record, timing, loss))
        else:  # every other field is a number, which csv never quotes: the same bytes, joined at once
            self.trace.write_line(
                f"{self.pushes},{record.learner},{record.pulled_version},{record.version},{record.tau},"
                f"{int(record.accepted)},{int(record.applied)},{record.nbytes},{timing.bytes_down},"
                f"{loss:.6g},{record.grad_norm:.6g},{record.lr:.6g},{timing.end:.6f},"
                f"{timing.pull:.6g},{timing.compute:.6g},{timing.compress:.6g},"
                f"{timing.push:.6g},{timing.wait:.6g},{timing.apply:.6g},\r\n"
            )
        if self._progress is not None:
            self._progress(record.version, self.samples)

    def eval_due(self, version: int) -> bool:
        return version % self.eval_every == 0 and version != self._last_eval

    def evaluate(self, params: torch.Tensor, version: int, samples: int, time_: float) -> dict[str, float]:
        self._last_eval = version
        scores = self._evaluate(params)
        running = self._loss_sum / self._loss_n if self._loss_n else float("nan")
        self._loss_sum, self._loss_n = 0.0, 0
        row = {
            "update": version,
            "samples": samples,
            "epoch": samples / self.n_train,
            "time": time_,
            "wall": time.perf_counter() - self.wall_start,
            "running_loss": running,
            **scores,
        }
        self.metrics.append(row)
        self.metrics_log.write([row.get(c, math.nan) for c in self.columns])
        for listener in self.listeners:
            listener(row)
        return row

    def stop_requested(self) -> bool:
        if self._stop():
            self.stop_reason = "interrupted"
            return True
        if self._rejected_run >= self.stall_limit:
            # NaN/Inf in every push of the run: the model diverged, a result of its settings (the
            # same settings diverge again); any other rejection is a fault of the pushes
            self.stop_reason = "diverged" if self._non_finite_run >= self.stall_limit else "stalled"
            return True
        return False

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint_due(self, updates: int) -> bool:
        return self.checkpoints is not None and self.checkpoints.due(updates)

    def save_checkpoint(self, engine_state: dict[str, Any]) -> None:
        if self.checkpoints is not None:
            self.trace.flush()
            self.metrics_log.flush()
            self.checkpoints.save(engine_state, self)

    def restored_engine_state(self) -> dict[str, Any] | None:
        return self.resumed_engine_state

    _COUNTS = ("pushes", "samples", "bytes_up", "bytes_down", "last_update", "_loss_n", "_last_eval",
               "_rejected_run")  # fmt: skip
    STATE_KEYS = (*_COUNTS, "tau", "_loss_sum", "metrics", "per_learner", "phase_totals", "wall")
    """The keys of :meth:`state_dict` (a checkpoint is checked for them before anything is written)."""

    def state_dict(self) -> dict[str, Any]:
        """Totals so far (what a resumed run continues from), as plain Python numbers: engines may
        hand over numpy integers, which a checkpoint must not hold."""
        state: dict[str, Any] = {k: int(getattr(self, k)) for k in self._COUNTS}
        state["tau"] = {int(t): int(n) for t, n in self.tau.items()}
        state["_loss_sum"] = float(self._loss_sum)
        state["metrics"] = [{k: _number(v) for k, v in row.items()} for row in self.metrics]
        state["per_learner"] = {
            int(i): {k: int(v) for k, v in c.items()} for i, c in self.per_learner.items()
        }
        state["phase_totals"] = {
            int(i): {k: float(v) for k, v in t.items()} for i, t in self.phase_totals.items()
        }
        state["wall"] = self.wall_before + time.perf_counter() - self.wall_start
        state[_LATER_COUNT] = int(self._non_finite_run)
        return state

    @classmethod
    def state_problem(cls, state: dict[str, Any]) -> str:
        """The first key of ``state`` that is not as :meth:`state_dict` writes it ("" if none): a
        checkpoint may come from anyone, and is checked before the logs are cut back to it."""

        def table(value: Any, key_type: type, leaf: Callable[[Any], bool]) -> bool:
            return type(value) is dict and all(type(k) is key_type and leaf(v) for k, v in value.items())

        def number(value: Any) -> bool:
            return type(value) in (int, float)

        def count(value: Any) -> bool:
            return type(value) is int

        checks: dict[str, Callable[[Any], bool]] = {
            **dict.fromkeys(cls._COUNTS, count),
            "tau": lambda v: table(v, int, count),
            "_loss_sum": number,
            "metrics": lambda v: type(v) is list and all(table(row, str, number) for row in v),
            "per_learner": lambda v: table(v, int, lambda c: table(c, str, count)),
            "phase_totals": lambda v: table(v, int, lambda t: table(t, str, number)),
            "wall": number,
        }
        if _LATER_COUNT in state and not count(state[_LATER_COUNT]):
            return _LATER_COUNT
        return next((k for k in cls.STATE_KEYS if not checks[k](state.get(k))), "")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self._COUNTS:
            setattr(self, k, int(state[k]))
        self._non_finite_run = int(state.get(_LATER_COUNT, 0))
        self.tau = Counter({int(t): int(n) for t, n in state["tau"].items()})
        self._loss_sum = float(state["_loss_sum"])
        self.metrics = copy.deepcopy(list(state["metrics"]))
        for k, v in state["per_learner"].items():
            self.per_learner[int(k)] = Counter(v)
        for k, v in state["phase_totals"].items():
            self.phase_totals[int(k)].update(v)
        self.wall_before = float(state["wall"])

    # -- end of run ----------------------------------------------------------------------------
    def finish(self, params: torch.Tensor, version: int, time_: float) -> dict[str, float]:
        """Evaluate the final parameters (unless just done) and close the logs."""
        if self.metrics and self.metrics[-1]["update"] == version:
            final = self.metrics[-1]
        else:
            final = self.evaluate(params, version, self.samples, time_)
        self.close()
        return final

    def close(self) -> None:
        self.trace.close()
        self.metrics_log.close()
