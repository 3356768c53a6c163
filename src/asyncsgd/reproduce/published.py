"""The published numbers the reproductions are compared with, each with where it was read.

Bhardwaj & Cong (2016) published slides, not tables: their numbers were digitised from the slide
figures (about ±1 point on accuracy axes) and collected, with the slide each comes from, in the
project's research notes (``research/algorithms.md``, section 2.7 "Figures, as numbers", and
section 7). Candela et al. (2019) published no numbers that are publicly readable; only their two
abstracts' claims are quoted. Nothing else in a report is typed by hand: every other number is
read from the results database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    where: str
    how: str

    def __str__(self) -> str:
        return f"{self.where} ({self.how})"


CONG = "O. Bhardwaj, G. Cong. Practical Efficiency of Asynchronous Stochastic Gradient Descent. MLHPC 2016"
DIGITISED = "digitised from the slide figure, about ±1 point"

# -- Bhardwaj & Cong 2016 --------------------------------------------------------------------------
CONG_PLATFORM = (
    "IBM Power8 host (2 × 12 cores) with 8 NVIDIA Tesla K80 boards; learners on GPUs, sharded PS on the host"
)

BREAKDOWN_SOURCE = Source(
    "slide 6, 'Breakdown of epoch time'", DIGITISED + "; N = NLC-F, C = CIFAR-10 inferred"
)
BREAKDOWN_COMMUNICATION = {
    "NLC-F": {1: 61.0, 2: 58.9, 4: 61.1, 8: 66.0},
    "CIFAR-10": {1: 21.3, 2: 21.2, 4: 24.5, 8: 31.9},
}
"""Share (%) of epoch time spent communicating, per p; computation is the rest."""

PRACTICAL_RATE = 0.1
PREDICTED_RATE = 0.005
PREDICTION_SAMPLES = 500_000
RATE_SOURCE = Source("slide 10", "read: 'γ = 0.005, not 0.1', with MK = 500,000 samples")
CIFAR10_TRAIN = 50_000
"""Training images of CIFAR-10: MK = 500,000 samples is 10 epochs (research notes, section 2.4)."""

PRACTICAL_SOURCE = Source("slide 7, Downpour on CIFAR-10 with γ = 0.1", DIGITISED)
PRACTICAL_ACCURACY = {
    1: {1: 33, 10: 62.1, 20: 69.7, 30: 73.4, 50: 76.4, 70: 78.4, 90: 79.1, 100: 79.4},
    2: {1: 30, 10: 60.6, 20: 69.9, 30: 73.0, 50: 76.7, 70: 78.5, 90: 79.3, 100: 79.5},
    8: {1: 17, 10: 49.3, 20: 65.7, 30: 69.7, 50: 74.1, 70: 76.9, 90: 77.6, 100: 78.5},
    16: {1: 20, 10: 42.2, 20: 55.7, 30: 61.2, 50: 70.1, 70: 73.1, 90: 75.6, 100: 76.2},
}
"""Accuracy (%) by p, then by epoch (of 100)."""

PREDICTED_SOURCE = Source(
    "slide 11, CIFAR-10 with γ = 0.005", DIGITISED + "; p = 1, 2, 8, 16 within about 1 point"
)
PREDICTED_ACCURACY = {1: 18, 10: 25, 20: 32, 30: 37, 50: 44.5, 70: 51, 90: 55.5, 100: 57.5}
"""Accuracy (%) by epoch, the same for every p."""
PREDICTED_SPREAD = 1.0
"""Points within which the curves of p = 1, 2, 8, 16 coincide on slide 11."""
PUBLISHED_EPOCHS = 100

EAMSGD_CIFAR_SOURCE = Source("slides 14 and 15, CIFAR-10, 100 epochs", DIGITISED + ", at epoch ≈ 99")
EAMSGD_CIFAR = {
    2: {"train": (74.0, 74.1), "test": (79.2, 81.2)},
    4: {"train": (70.8, 72.9), "test": (75.4, 78.8)},
    8: {"train": (28.1, 69.8), "test": (31.0, 76.6)},
    16: {"train": (16.5, 63.9), "test": (19.5, 70.5)},
}
"""(Downpour, EAMSGD) final accuracy (%) by p."""

EAMSGD_TEXT_SOURCE = Source("slides 16 and 17, NLC-F, 200 epochs", DIGITISED + ", x positions ±5 epochs")
EAMSGD_TEXT = {
    2: {"train": (80.4, 97.8), "test": (43.4, 51.9), "test_peak": (57.5, 61.2)},
    4: {"train": (32.8, 32.7), "test": (11.4, 18.3), "test_peak": (55.9, 54.3)},
    8: {"train": (49.6, 54.7), "test": (31.8, 27.5), "test_peak": (55.3, 54.9)},
    16: {"train": (94.9, 30.1), "test": (48.7, 12.0), "test_peak": (54.9, 50.3)},
}
"""(Downpour, EAMSGD) final train and test accuracy and peak test accuracy (%) by p."""
TEXT_EPOCHS = 200
TEXT_PEAK_EPOCHS = (20, 60)
"""Epochs around which NLC-F's test accuracy peaks before it degrades (slide 17)."""

RATIO_SOURCE = Source("slides 12 and 13", "read: R_p/R_1 ≈ p/α for α ≤ p, charted for p = 256 and 512")
RATIO_LEARNERS = (256, 512)

# -- Candela, Franzese, Filippone, Michiardi 2019 ----------------------------------------------------
CANDELA = (
    "R. Candela, G. Franzese, M. Filippone, P. Michiardi. Sparsification as a Remedy for Staleness in "
    "Distributed Asynchronous SGD. arXiv 1910.09466 (v1, 2019; later version 'Convergence Analysis of "
    "Sparsified Asynchronous SGD')"
)
CANDELA_V1 = Source("arXiv 1910.09466 v1 abstract (21 October 2019)", "quoted")
CANDELA_V1_CLAIM = (
    "sparsification consistently improves over vanilla SGD and current alternatives to mitigate the "
    "effects of staleness"
)
CANDELA_LATER = Source(
    "later version's abstract, 'Convergence Analysis of Sparsified Asynchronous SGD'", "quoted"
)
CANDELA_LATER_CLAIM = (
    "the effects of sparsification on the convergence rate are negligible, when compared to 'vanilla' SGD"
)
CANDELA_NOT_PUBLISHED = (
    "where sparsification is applied, top-k or random-k, the error-feedback memory, the staleness model "
    "and distribution, the ratios, datasets, models, learning rates, budgets and every number"
)
"""What neither version makes publicly readable (research notes, section 1.4)."""
