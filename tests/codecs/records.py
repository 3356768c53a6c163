"""One record per codec configuration: the registry battery in test_battery.py runs on all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncsgd.core.flat import FlatLayout

LAYOUT = FlatLayout.from_shapes([("w1", (40, 8)), ("b1", (8,)), ("w2", (8, 30)), ("b2", (3,))])


@dataclass(frozen=True)
class CodecRecord:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    bad_params: tuple[dict[str, Any], ...] = ()
    exact_feedback: bool = True
    """Decoded values are exact copies of input coordinates, so ``sent + residual == input``
    holds bit for bit; otherwise only up to rounding."""

    @property
    def id(self) -> str:
        return self.name + "".join(f"-{k}={v}" for k, v in self.params.items())


BAD_RATIOS = ({"ratio": 0.0}, {"ratio": 1.5}, {"ratio": -0.1}, {"ratio": 0.1, "scope": "row"})

RECORDS = [
    CodecRecord("identity"),
    CodecRecord("topk", {"ratio": 0.05}, BAD_RATIOS),
    CodecRecord("topk", {"ratio": 0.05, "scope": "layer"}, BAD_RATIOS),
    CodecRecord("topk", {"ratio": 1.0}),
    CodecRecord("randomk", {"ratio": 0.05}, BAD_RATIOS),
    CodecRecord("randomk", {"ratio": 0.05, "scope": "layer"}),
    CodecRecord("randomk", {"ratio": 0.05, "unbiased": True}, exact_feedback=False),
    CodecRecord("randomk", {"ratio": 0.1, "scope": "layer", "unbiased": True}, exact_feedback=False),
]
