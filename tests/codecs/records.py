"""One record per codec configuration: the registry battery in test_battery.py runs on all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncsgd.vocabulary.flat import FlatLayout

LAYOUT = FlatLayout.from_shapes([("w1", (40, 8)), ("b1", (8,)), ("w2", (8, 30)), ("b2", (3,))])


@dataclass(frozen=True)
class CodecRecord:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    bad_params: tuple[dict[str, Any], ...] = ()
    """Each must raise a ValueError whose message names one of its keys."""
    exact_feedback: bool = True
    """Decoded values are exact copies of input coordinates, so ``sent + residual == input``
    holds bit for bit; otherwise only up to rounding."""
    compresses: bool = True
    """Payloads are smaller than the dense vector."""
    bits_per_coordinate: float | None = None
    """For bit formats: the payload is at most this many bits per coordinate (plus its scales)."""
    randomised: bool = False
    """Its output depends on the seed (different seeds, different payloads)."""
    forwards_non_finite: bool = True
    """A NaN or Inf coordinate always reaches the server (so it rejects the push); random-k may
    simply not pick it."""

    @property
    def id(self) -> str:
        return self.name + "".join(f"-{k}={v}" for k, v in self.params.items())


BAD_RATIOS = ({"ratio": 0.0}, {"ratio": 1.5}, {"ratio": -0.1}, {"ratio": 0.1, "scope": "row"})
BAD_SCOPE = ({"scope": "row"},)
BAD_LEVELS = ({"levels": 0}, {"levels": -3}, {"levels": 2.5}, {"levels": 2**15}, {"bucket": -1})
BAD_CLIPS = ({"clip": -1.0}, {"clip": float("nan")}, {"scope": "row"})
BAD_THRESHOLDS = ({"threshold": 0.0}, {"threshold": -1.0}, {"threshold": float("inf")})

RANDOM = {"randomised": True}
LOSSY = {"exact_feedback": False}

RECORDS = [
    CodecRecord("identity", compresses=False),
    CodecRecord("topk", {"ratio": 0.05}, BAD_RATIOS),
    CodecRecord("topk", {"ratio": 0.05, "scope": "layer"}, BAD_RATIOS),
    CodecRecord("topk", {"ratio": 1.0}, compresses=False),
    CodecRecord("randomk", {"ratio": 0.05}, BAD_RATIOS, forwards_non_finite=False, **RANDOM),
    CodecRecord("randomk", {"ratio": 0.05, "scope": "layer"}, forwards_non_finite=False, **RANDOM),
    CodecRecord("randomk", {"ratio": 0.05, "unbiased": True}, forwards_non_finite=False, **RANDOM, **LOSSY),
    CodecRecord(
        "randomk",
        {"ratio": 0.1, "scope": "layer", "unbiased": True},
        forwards_non_finite=False,
        **RANDOM,
        **LOSSY,
    ),
    CodecRecord("sign", {}, BAD_SCOPE, bits_per_coordinate=1, **LOSSY),
    CodecRecord("sign", {"scope": "layer"}, bits_per_coordinate=1, **LOSSY),
    CodecRecord("efsign", {}, BAD_SCOPE, bits_per_coordinate=1, **LOSSY),
    CodecRecord("onebit", {}, BAD_SCOPE, bits_per_coordinate=1, **LOSSY),
    CodecRecord("onebit", {"scope": "layer"}, bits_per_coordinate=1, **LOSSY),
    CodecRecord("qsgd", {"levels": 1, "bucket": 0}, BAD_LEVELS, bits_per_coordinate=2, **RANDOM, **LOSSY),
    CodecRecord("qsgd", {"levels": 7, "bucket": 64}, bits_per_coordinate=4, **RANDOM, **LOSSY),
    CodecRecord(
        "qsgd", {"levels": 100, "bucket": 0, "scope": "layer"}, bits_per_coordinate=8, **RANDOM, **LOSSY
    ),
    CodecRecord("qsgd", {"levels": 300, "bucket": 100}, bits_per_coordinate=16, **RANDOM, **LOSSY),
    CodecRecord("terngrad", {"clip": 0.0}, BAD_CLIPS, bits_per_coordinate=2, **RANDOM, **LOSSY),
    CodecRecord("terngrad", {"clip": 2.5, "scope": "layer"}, bits_per_coordinate=2, **RANDOM, **LOSSY),
    CodecRecord("threshold", {"threshold": 1.0}, BAD_THRESHOLDS, **LOSSY),
    CodecRecord("dropping", {"ratio": 0.05}, BAD_RATIOS, **RANDOM),
    CodecRecord("dropping", {"ratio": 0.1, "scope": "layer"}, **RANDOM),
    CodecRecord("wangni", {"ratio": 0.1}, BAD_RATIOS, **RANDOM, **LOSSY),
    CodecRecord("wangni", {"ratio": 0.2, "scope": "layer"}, **RANDOM, **LOSSY),
    CodecRecord("wangni", {"ratio": 1.0}, compresses=False, **LOSSY),
]
