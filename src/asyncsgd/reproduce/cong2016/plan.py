"""The study's parts and the thresholds its findings use."""

from __future__ import annotations

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.study import Part

NAME = "cong2016"
TITLE = "Bhardwaj & Cong (MLHPC 2016): practical efficiency of asynchronous SGD"

RATES, IMAGE, TEXT, BREAKDOWN = "rates", "eamsgd-image", "eamsgd-text", "breakdown"
SPEEDUP, MOMENTUM, ENGINES, TUNED = "speedup", "momentum", "engines", "tuned"
PARTS = (
    Part(RATES, "learning rates, p = 1, 2, 8, 16"),
    Part(IMAGE, "image set"),
    Part(TEXT, "text set"),
    Part(BREAKDOWN, "epoch-time breakdown, p = 1, 2, 4, 8", exclusive=True),
    Part(SPEEDUP, "time to a target accuracy against p, both rates"),
    Part(MOMENTUM, "Downpour with momentum against EAMSGD over α and τ_c"),
    Part(ENGINES, "local engine against the simulator replaying it, p = 4", exclusive=True),
    Part(TUNED, "Downpour and EAMSGD at rates tuned on a validation split, p = 4, 16"),
)

CHECKPOINT_EPOCHS = (10, 50, 100)
"""Epochs of the study's 100 at which accuracies are compared (ours: the same fractions of our budget)."""
CHECKPOINTS = tuple(e / pub.PUBLISHED_EPOCHS for e in CHECKPOINT_EPOCHS)
COLLAPSE = 10.0
"""Points of test accuracy lost from the smallest to the largest p that we call a collapse."""
LEVEL = 1.0
"""Points of test accuracy within which two means are called level (about the digitising error);
also the margin of the equivalence tests of parts (g) and (h)."""
