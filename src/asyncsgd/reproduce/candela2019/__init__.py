"""Candela, Franzese, Filippone, Michiardi (2019), "Sparsification as a Remedy for Staleness in
Distributed Asynchronous SGD" (arXiv 1910.09466; later "Convergence Analysis of Sparsified
Asynchronous SGD").

Under controlled staleness (p = 2, 4, 8, 16 learners in the simulator's delay model, and a fixed τ),
Downpour against the sparsifiers as the literature varies them (top-k over the whole vector and per
layer, ratios 0.1% to 50%, with and without error feedback; random-k biased, unbiased and with
error feedback), the staleness-aware learning rate, DC-ASGD and synchronous SGD. The two versions
of the work disagree about the empirical claim (v1: sparsification "consistently improves"; later:
its effect is "negligible"); the report computes which one the data support with a decision rule
stated in ``sweeps/candela2019/<size>/decision.toml`` before the runs: every comparison, paired by
seed, is better, worse, equivalent (two one-sided tests against the margin) or inconclusive
(:func:`asyncsgd.stats.judge`), apart for the settings where staleness hurts Downpour and those
where it does not, on the final test accuracy and, as a check, on the ergodic average of
‖∇f(x_t)‖² that the theorem bounds.

* :mod:`.plan` — the parts, the methods compared, what each sweep varies
* :mod:`.rule` — the decision rule as its file states it (margins, level, when staleness hurts)
* :mod:`.numbers` — what is read from the sweeps: lines, settings, scores by seed
* :mod:`.verdict` — the judged comparisons, the verdict per group and the claim it supports
* :mod:`.opening` — the verdict table, the rule and every comparison, as the report opens
* :mod:`.tuned` — every method at its rate chosen on a validation split, judged at it and at the shared rate
* :mod:`.rate` — the rate the theorem states: the slope of the ergodic ‖∇f‖² against K at lr = c/√K
* :mod:`.text` — the report's other sections
"""

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019.plan import NAME, PARTS, TITLE
from asyncsgd.reproduce.candela2019.rule import Rule, load_rule, parse_rule
from asyncsgd.reproduce.candela2019.text import report, statement
from asyncsgd.reproduce.candela2019.verdict import CLAIMS, GRADIENT, PRIMARY, Verdict, claim, judge, summary
from asyncsgd.reproduce.study import Study, register

STUDY = register(Study(NAME, TITLE, pub.CANDELA, PARTS, report))

__all__ = [
    "CLAIMS",
    "GRADIENT",
    "PRIMARY",
    "STUDY",
    "Rule",
    "Verdict",
    "claim",
    "judge",
    "load_rule",
    "parse_rule",
    "report",
    "statement",
    "summary",
]
