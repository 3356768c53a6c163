"""Reproductions of published studies: each a set of packaged sweep definitions (quick and full)
plus a report that reads the results database and sets the published numbers beside ours.

* :mod:`.study` — :class:`Study`, its parts and sizes, the ``STUDIES`` registry
* :mod:`.cong2016`, :mod:`.candela2019` — one package per study: its parts, what its report
  computes from the results, its figures and its words
* :mod:`.published` — the published numbers, each with where it was read
* :mod:`.results` — a study's sweeps read from the database, shared report sections
* :mod:`.document` — the report as blocks, rendered as Markdown and HTML
* :mod:`.execute` — running a study's sweeps into a results database (resumable)
"""

from asyncsgd.reproduce import candela2019, cong2016
from asyncsgd.reproduce.results import StudyResults, load_results, write_report
from asyncsgd.reproduce.study import SIZES, STUDIES, Part, Plan, Study, miniature

__all__ = [
    "SIZES",
    "STUDIES",
    "Part",
    "Plan",
    "Study",
    "StudyResults",
    "candela2019",
    "cong2016",
    "load_results",
    "miniature",
    "write_report",
]
