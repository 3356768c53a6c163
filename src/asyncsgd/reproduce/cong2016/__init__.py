"""Bhardwaj & Cong (MLHPC 2016), "Practical Efficiency of Asynchronous Stochastic Gradient Descent".

Eight parts, four as the study's slides: (a) Downpour at the practical learning rate against the rate the
convergence analysis assumes (predicted here by ``lr = "auto"``), p = 1, 2, 8, 16; (b) Downpour
against EAMSGD for p = 2, 4, 8, 16 on an image and a text set; (c) the breakdown of epoch time into
computation and communication for p = 1, 2, 4, 8 on the ``local`` engine; (d) the ratio of the
optimal convergence guarantees for p learners and for one (the p/α theorem), with Lian et al.'s
conditions checked for T = p and for the staleness our runs measured; and four the study did not run:
(e) the speed-up itself, simulated time to a target accuracy against p = 1 to 64 at both rates,
beside the ratio of guarantees the bound predicts, and (f) Downpour with the momentum EAMSGD has
(heavy ball and ``async_momentum``) against EAMSGD over its α and τ_c, (g) the simulator against
the ``local`` engine (its recorded schedule replayed, and the simulator's own delay model), and (h)
Downpour against EAMSGD at rates chosen on a validation split and at the shared one. The report opens
with the verdict: each claim of the study and each added question, our result, its outcome (better,
worse, equivalent or inconclusive from a stated point of view) and the settings it holds in. It puts
the published numbers (:mod:`asyncsgd.reproduce.published`) beside ours and says where they differ;
every sentence about our runs is computed from the results database.

* :mod:`.plan` — the parts and the thresholds of the findings
* :mod:`.numbers` — what is read from the sweeps (means, accuracy at a point of the budget, rates)
* :mod:`.figures` — the study's own figures (published beside ours, the ratio chart)
* :mod:`.rates`, :mod:`.eamsgd`, :mod:`.breakdown`, :mod:`.ratio`, :mod:`.speedup`,
  :mod:`.momentum`, :mod:`.engines`, :mod:`.tuned` — one part's section each
* :mod:`.opening` — the verdict table, each row read from its part's numbers
* :mod:`.text` — the report: introduction, differences from the study, the order of the sections
"""

from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.cong2016.plan import NAME, PARTS, TITLE
from asyncsgd.reproduce.cong2016.text import report
from asyncsgd.reproduce.study import Study, register

STUDY = register(Study(NAME, TITLE, pub.CONG, PARTS, report))

__all__ = ["STUDY", "report"]
