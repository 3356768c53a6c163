"""The study's parts, the methods the verdict puts against each other, and what each sweep varies."""

from __future__ import annotations

from dataclasses import dataclass

from asyncsgd.reproduce.study import Part

NAME = "candela2019"
TITLE = "Candela et al. (2019): sparsification as a remedy for staleness"

DELAYS, FIXED, TUNED = "delays", "fixed", "tuned"
RATE, LINKS = "rate", "links"
PARTS = (
    Part(DELAYS, "delay model, p = 2, 4, 8, 16"),
    Part(FIXED, "fixed staleness τ"),
    Part(TUNED, "each method at its rate tuned on a validation split"),
    Part(RATE, "the rate: lr = c/√K over a decade of K"),
    Part(LINKS, "links that cost time, p = 8"),
)

BASELINE = "downpour"
SPARSIFIED = "topk-ef"
ALTERNATIVES = ("staleness-lr", "dc-asgd")
CONTEXT = ("topk", "topk-ef-layer", "randomk-ef", "randomk", "randomk-unbiased", "staleness-lr", "dc-asgd")
"""Methods also put against Downpour with the same rule, for context."""
LINE_KEYS = ("method", "ratio")
DATA_KEYS = ("dataset", "model", "hidden", "batch_size", "lr", "updates")

REFERENCES = {DELAYS: "sync", FIXED: "sgd"}
"""The runs without staleness each setting is measured against: synchronous SGD with the same p,
sequential SGD for the fixed τ."""


@dataclass(frozen=True)
class Axis:
    """What a sweep varies between its settings: learners (delay model) or τ (fixed staleness)."""

    key: str
    symbol: str

    def label(self, value: object) -> str:
        return f"{self.symbol} = {value}"


AXES = {DELAYS: Axis("learners", "p"), FIXED: Axis("staleness", "τ")}
