"""Named per-run measures a report can tabulate or plot, aggregated over replicates as mean ± std.

A measure is written ``name`` or ``name:argument`` (``updates_to:0.9``: server updates until the
test accuracy first reaches 90 %; ``engine_seconds_to:0.9``: engine seconds until then, the time a
speed-up against the number of learners is read from).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncsgd.errors import ConfigError
from asyncsgd.registry import Registry, UnknownName
from asyncsgd.report.runs import RunView

Value = Callable[[RunView], float | None]


@dataclass(frozen=True)
class Measure:
    name: str
    header: str
    value: Value
    digits: int = 2


MEASURES: Registry[Callable[[str], Measure]] = Registry("measure")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _path(*keys: str, scale: float = 1.0) -> Value:
    def get(run: RunView) -> float | None:
        v: Any = run.summary
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        n = _num(v)
        return None if n is None else n * scale

    return get


def _simple(name: str, header: str, value: Value, digits: int, summary: str) -> None:
    def factory(arg: str) -> Measure:
        if arg:
            raise ConfigError("measures", f"measure {name!r} takes no argument, got {name}:{arg}")
        return Measure(name, header, value, digits)

    MEASURES.register(name, summary)(factory)


_simple("test_accuracy", "test acc %", _path("final_test_accuracy", scale=100), 2, "final test accuracy (%)")
_simple(
    "train_accuracy",
    "train acc %",
    _path("final", "train_accuracy", scale=100),
    2,
    "final train accuracy (%)",
)
_simple("train_loss", "train loss", _path("final_train_loss"), 4, "final training loss")
_simple("test_loss", "test loss", _path("final", "test_loss"), 4, "final test loss")
_simple("updates", "updates", _path("updates"), 0, "server updates applied")
_simple("epochs", "epochs", _path("epochs"), 2, "passes over the training set")
_simple("tau_mean", "τ mean", _path("staleness", "mean"), 2, "mean staleness of applied pushes")
_simple("tau_p95", "τ p95", _path("staleness", "p95"), 1, "95th percentile of staleness")
_simple("tau_max", "τ max", _path("staleness", "max"), 0, "largest staleness")
_simple("mb_up", "MB up", _path("bytes", "up", scale=1e-6), 3, "megabytes pushed by the learners")
_simple("mb_down", "MB down", _path("bytes", "down", scale=1e-6), 3, "megabytes pulled by the learners")
_simple("compression", "bytes / dense", _path("bytes", "compression"), 4, "pushed bytes over dense pushes")
_simple("wall_seconds", "wall s", _path("time", "wall_seconds"), 1, "wall-clock seconds of the run")
_simple(
    "engine_seconds", "engine s", _path("time", "engine_seconds"), 1, "engine seconds (simulated for sim)"
)


_simple(
    "grad_norm_sq",
    "‖∇f‖² final",
    _path("grad_norm_sq", "final"),
    4,
    "‖∇f(x)‖² of the training loss at the last evaluation (runs with eval_grad_norm)",
)
_simple(
    "grad_norm_sq_ergodic",
    "ergodic ‖∇f‖²",
    _path("grad_norm_sq", "ergodic"),
    4,
    "(1/T) Σ_t ‖∇f(x_t)‖², the quantity the convergence theorems bound, approximated by the mean "
    "over the evaluation points (runs with eval_grad_norm)",
)


# -- the validation split (runs with validation > 0): what a rate is chosen on ---------------------
_simple(
    "val_accuracy", "val acc %", _path("final_val_accuracy", scale=100), 2,
    "final accuracy on the validation split held out of the training set (%; runs with validation > 0)",
)  # fmt: skip
_simple(
    "val_loss", "val loss", _path("final", "val_loss"), 4,
    "final loss on the validation split (runs with validation > 0)",
)  # fmt: skip


COMPUTATION = ("compute", "compress")
COMMUNICATION = ("pull", "push", "wait", "apply")
"""The learners' time phases on each side of the "breakdown of epoch time": computing a gradient
and encoding it, against moving parameters and gradients and waiting for the server."""


def phase_shares(run: RunView) -> dict[str, float] | None:
    """Share (%) of the learners' summed time in each phase, or None when no time was recorded."""
    breakdown = run.summary.get("time", {}).get("breakdown", {})
    values = {k: _num(v) or 0.0 for k, v in breakdown.items()}
    total = sum(values.values())
    return {k: 100 * v / total for k, v in values.items()} if total > 0 else None


def _share(phases: tuple[str, ...]) -> Value:
    def value(run: RunView) -> float | None:
        shares = phase_shares(run)
        return None if shares is None else sum(shares.get(p, 0.0) for p in phases)

    return value


_simple(
    "comm_share", "communication %", _share(COMMUNICATION), 1,
    f"share of learner time in {', '.join(COMMUNICATION)} (%)",
)  # fmt: skip
_simple(
    "compute_share", "computation %", _share(COMPUTATION), 1,
    f"share of learner time in {', '.join(COMPUTATION)} (%)",
)  # fmt: skip


def _best(run: RunView) -> float | None:
    values = [_num(m.get("test_accuracy")) for m in run.metrics]
    found = [v for v in values if v is not None]
    return 100 * max(found) if found else None


_simple("best_test_accuracy", "best test acc %", _best, 2, "best test accuracy over the evaluations (%)")


def _target(name: str, arg: str) -> float:
    try:
        target = float(arg)
    except ValueError:
        target = math.nan
    if not 0 < target <= 1:
        raise ConfigError("measures", f"{name} needs a target accuracy in (0, 1], as {name}:0.9; got {arg!r}")
    return target


def _first_reaching(column: str, name: str, header: str, digits: int) -> Callable[[str], Measure]:
    """``column`` of the first evaluation whose test accuracy is at or above the target; None when
    no evaluation reaches it (a run that never gets there has no time to it, rather than 0)."""

    def factory(arg: str) -> Measure:
        target = _target(name, arg)

        def value(run: RunView) -> float | None:
            for m in run.metrics:
                acc = _num(m.get("test_accuracy"))
                if acc is not None and acc >= target:
                    return _num(m.get(column))
            return None

        return Measure(f"{name}:{arg}", f"{header} to {100 * target:g}%", value, digits)

    return factory


def _register_first_reaching(column: str, name: str, header: str, digits: int, what: str) -> None:
    MEASURES.register(name, f"{what} until test accuracy first reaches the target", arg=True)(
        _first_reaching(column, name, header, digits)
    )


_register_first_reaching("update", "updates_to", "updates", 0, "server updates")
_register_first_reaching("epoch", "epochs_to", "epochs", 2, "epochs")
_register_first_reaching("time", "engine_seconds_to", "engine s", 2, "engine seconds (simulated for sim)")


def measure(spec: str) -> Measure:
    """The measure written ``name`` or ``name:argument`` (ConfigError if unknown)."""
    name, _, arg = spec.partition(":")
    try:
        factory = MEASURES.get(name)
    except UnknownName as err:
        raise ConfigError("measures", str(err)) from None
    return factory(arg)


@dataclass(frozen=True)
class Aggregate:
    """A measure over the replicates of one group: mean, sample standard deviation, counts."""

    mean: float | None
    std: float | None
    n: int
    total: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Aggregate:
        found = [v for v in values if v is not None]
        if not found:
            return cls(None, None, 0, len(values))
        std = statistics.stdev(found) if len(found) > 1 else None
        return cls(statistics.fmean(found), std, len(found), len(values))

    def format(self, digits: int) -> str:
        if self.mean is None:
            return "–"
        text = f"{self.mean:.{digits}f}"
        if self.std is not None:
            text += f" ± {self.std:.{digits}f}"
        if self.n < self.total:
            text += f" ({self.n}/{self.total})"
        return text
