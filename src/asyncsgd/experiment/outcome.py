"""What a run returns to Python: each method's summary, curves and final parameters, with the
trained module rebuilt on demand, and reprs a person can read (a few lines, never tensors)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asyncsgd.metrics import FINISHED


def _percent(value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.2f}%"


@dataclass(repr=False)
class MethodResult:
    """One method's outcome. ``params`` is the server's final flat vector; :attr:`module` is the
    model with those parameters loaded."""

    name: str
    summary: dict[str, Any]
    params: torch.Tensor
    metrics: list[dict[str, float]]
    out_dir: Path | None
    model_factory: Callable[[], nn.Module] | None = None
    """Rebuilds the initial model (a copy of the user's module, or the registered model)."""

    @cached_property
    def module(self) -> nn.Module:
        """A trained copy of the model, in eval mode: its trainable parameters, in
        ``named_parameters`` order, are the final flat vector (the layout the engines train);
        buffers (BatchNorm statistics) are the initial model's, as evaluation used them."""
        if self.model_factory is None or self.params.numel() == 0:
            why = "cut off before its end" if self.summary.get("stop_reason") == "aborted" else "not kept"
            raise ValueError(f"method {self.name!r} has no final parameters ({why}): no module to rebuild")
        module = self.model_factory()
        trained = [p for p in module.parameters() if p.requires_grad]
        size = sum(p.numel() for p in trained)
        if size != self.params.numel():
            raise ValueError(f"model has {size} parameters but the result holds {self.params.numel()}")
        offset = 0
        with torch.no_grad():  # copies: the module never shares memory with ``params``
            for p in trained:
                p.copy_(self.params[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
        return module.eval()

    def state_dict(self) -> dict[str, Any]:
        """The trained module's ``state_dict`` (load it into a fresh instance of the model)."""
        return self.module.state_dict()

    def __repr__(self) -> str:
        s = self.summary
        final = s.get("final", {})
        return (
            f"MethodResult({self.name!r}: test accuracy {_percent(final.get('test_accuracy'))}, "
            f"{s.get('updates', 0)} updates, stop {s.get('stop_reason', '?')!r}, "
            f"{self.params.numel():,} parameters"
            + (f", out_dir={str(self.out_dir)!r})" if self.out_dir is not None else ")")
        )


@dataclass(repr=False)
class ExperimentResult:
    name: str
    out_dir: Path | None
    methods: list[MethodResult] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    interrupted: bool = False
    aborted: bool = False
    """Cut off at once (a second Ctrl-C): the last method's summary holds what its recorder had."""

    @property
    def summary(self) -> dict[str, Any]:
        return {m.name: m.summary for m in self.methods}

    @property
    def unfinished(self) -> dict[str, str]:
        """Methods that neither spent their budget nor diverged, with their ``stop_reason``."""
        reasons = {m.name: m.summary["stop_reason"] for m in self.methods}
        return {name: reason for name, reason in reasons.items() if reason not in FINISHED}

    @property
    def diverged(self) -> dict[str, int]:
        """Methods whose model diverged, with the update they stopped at."""
        return {m.name: m.summary["updates"] for m in self.methods if m.summary["stop_reason"] == "diverged"}

    def __getitem__(self, name: str) -> MethodResult:
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(f"no method {name!r}; the methods are {[m.name for m in self.methods]}")

    def __repr__(self) -> str:
        state = " (aborted)" if self.aborted else " (interrupted)" if self.interrupted else ""
        lines = [f"ExperimentResult {self.name!r}{state}: {len(self.methods)} method(s)"]
        if self.out_dir is not None:
            lines[0] += f", out_dir={str(self.out_dir)!r}"
        width = max((len(m.name) for m in self.methods), default=0)
        for m in self.methods:
            s = m.summary
            acc = _percent(s.get("final", {}).get("test_accuracy"))
            lines.append(
                f"  {m.name:<{width}}  test accuracy {acc:>7}  {s.get('updates', 0)} updates  "
                f"stop {s.get('stop_reason', '?')}"
            )
        return "\n".join(lines)
