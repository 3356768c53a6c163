"""Candela, Franzese, Filippone, Michiardi (2019), "Sparsification as a Remedy for Staleness in
Distributed Asynchronous SGD" (arXiv 1910.09466; later "Convergence Analysis of Sparsified
Asynchronous SGD").

Under controlled staleness (p = 2, 4, 8, 16 learners in the simulator's delay model, and a fixed τ),
Downpour against top-k at several ratios with and without error feedback, random-k, the
staleness-aware learning rate, DC-ASGD and synchronous SGD. The two versions of the work disagree
about the empirical claim (v1: sparsification "consistently improves"; later: its effect is
"negligible"); the report computes which one the data supports with a stated decision rule
(:func:`asyncsgd.stats.decide` in each setting, :func:`asyncsgd.stats.majority` over the settings,
:func:`claim` for the two versions), applied to the final test accuracy and, as a check, to the
ergodic average of ‖∇f(x_t)‖² that the theorem bounds.

* :mod:`.plan` — the parts, the methods compared, what each sweep varies
* :mod:`.numbers` — what is read from the sweeps: lines, settings, scores by seed
* :mod:`.verdict` — the decision rule, the verdict and the claim it supports
* :mod:`.text` — the report's sections
"""

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019.plan import NAME, PARTS, TITLE
from asyncsgd.reproduce.candela2019.text import report, statement
from asyncsgd.reproduce.candela2019.verdict import CLAIMS, GRADIENT, PRIMARY, Verdict, claim, judge
from asyncsgd.reproduce.study import Study, register

STUDY = register(Study(NAME, TITLE, pub.CANDELA, PARTS, report))

__all__ = ["CLAIMS", "GRADIENT", "PRIMARY", "STUDY", "Verdict", "claim", "judge", "report", "statement"]
