"""Theory toolkit: measure the constants of Lian et al.'s (2015) bound for a model and dataset,
predict a learning rate, and price p learners (Bhardwaj & Cong 2016).

* :mod:`.conventions` — sum (Lian) vs mean (asyncsgd) gradients, per-sample vs mini-batch σ²
* :mod:`.objective`, :mod:`.variance`, :mod:`.curvature` — f, σ², L at a point
* :mod:`.probe` — the probe trajectory and :class:`Estimates`
* :mod:`.bound` — bound (1) under constraint (2), its exact optimum, the ratio of guarantees, and
  Lian's two conditions checked for a run's measured α, rate and staleness
* :mod:`.predict` — :class:`Prediction` of a rate for a run's M, K, p, T
* :mod:`.delay` — the delay bound T from a measured staleness histogram
* :mod:`.render` — text and JSON renderings, and the ratio table's default p and α

This package uses the core, never engines, metrics or front ends.
"""

from asyncsgd.theory.bound import Constants, DelayCheck, delay_checks, guarantee_ratio, optimal_u
from asyncsgd.theory.delay import delay_from_histogram, parse_statistic
from asyncsgd.theory.predict import RATES, Prediction, Problem, predict
from asyncsgd.theory.probe import LIPSCHITZ, Estimates, ProbeSettings, estimate

__all__ = [
    "LIPSCHITZ",
    "RATES",
    "Constants",
    "DelayCheck",
    "Estimates",
    "Prediction",
    "ProbeSettings",
    "Problem",
    "delay_checks",
    "delay_from_histogram",
    "estimate",
    "guarantee_ratio",
    "optimal_u",
    "parse_statistic",
    "predict",
]
