"""``asyncsgd reproduce`` end to end on the smoke plans: real worker processes (and learner
processes for the local engine), the results database, resuming, and the reports."""

from __future__ import annotations

import html.parser
import json
import re

import pytest

from asyncsgd.assembly.job import Job
from asyncsgd.cli.main import main
from asyncsgd.config import RunConfig
from asyncsgd.experiment.runner import run_job
from asyncsgd.reproduce import STUDIES, Plan, load_results
from asyncsgd.reproduce import published as pub
from asyncsgd.reproduce.candela2019 import judge, statement
from asyncsgd.reproduce.execute import run_study
from asyncsgd.reproduce.results import StudyResults
from asyncsgd.sweep import ResultsDB
from tests.reproduce.test_verdict import blank_figure
from tests.sweep.test_sweep import db_rows as rows

# the module's fixture runs a whole smoke study (about 50 runs and the report) inside the first test
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PLAN = Plan("quick", smoke=True)
SECTIONS = {
    "cong2016": ["Verdict", "Where this reproduction differs",
                 "(a) The practical and the predicted learning rate",
                 "(b) Downpour against EAMSGD: image set", "(b) Downpour against EAMSGD: text set",
                 "(c) Breakdown of epoch time", "(d) The ratio of convergence guarantees",
                 "The delay bound T", "(e) Speed-up against p", "(f) Downpour with momentum",
                 "(g) The simulator against a real engine", "(h) Tuned baselines",
                 "How this report was made"],
    "candela2019": ["Verdict", "What the study leaves open", "Staleness from the delay model: p = 2, 4",
                    "Fixed staleness: τ = 4, 8", "Tuned rates: p = 2, p = 64",
                    "The rate: ergodic ‖∇f‖² against K",
                    "Links that cost time: p = 8", "How this report was made"],
}  # fmt: skip
FIGURES = {"cong2016": 18, "candela2019": 17}  # every part's, a staleness distribution among them


@pytest.fixture(scope="module", params=sorted(SECTIONS))
def reproduced(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    db, out = root / "r.db", root / "report"
    argv = [
        "reproduce",
        request.param,
        "--quick",
        "--smoke",
        "--db",
        str(db),
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    code = main([*argv, "--quiet"])
    return request.param, argv, db, out, code


class Images(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_every_run_is_recorded_in_the_database(reproduced):
    name, _, db, _, code = reproduced
    assert code == 0
    study = STUDIES.get(name)
    for part in study.parts:
        statuses = rows(db, "SELECT status, count(*) FROM results WHERE sweep = ? GROUP BY status",
                        study.sweep_name(PLAN, part))  # fmt: skip
        assert statuses and all(s == "done" for s, _ in statuses), (part.key, statuses)
    ((ran, done_before, workers, label),) = rows(db, "SELECT ran, done_before, workers, label FROM sessions")
    assert ran == rows(db, "SELECT count(*) FROM runs")[0][0] and done_before == 0 and workers >= 1
    assert label == f"{name}-quick-smoke"
    if name == "candela2019":  # the gradient norm at every evaluation of every run
        per_run = rows(db, "SELECT run_id, count(*) FROM metrics WHERE name = 'grad_norm_sq' GROUP BY run_id")
        assert len(per_run) == ran and all(n >= 3 for _, n in per_run)
    else:  # local-engine runs record time per phase; predicted-rate runs their provenance
        compute, wait = rows(
            db, "SELECT min(t.compute), max(t.wait) FROM traces t JOIN sweep_runs m USING (run_id) "
            "WHERE m.sweep = ?", "cong2016-quick-smoke-breakdown",
        )[0]  # fmt: skip
        assert compute > 0 and wait >= 0
        lr = rows(db, "SELECT json_extract(r.summary, '$.lr_source.prediction.rule') FROM runs r "
                      "JOIN sweep_runs m USING (run_id) WHERE m.method = 'predicted'")  # fmt: skip
        assert lr and {v for (v,) in lr} == {"corollary2"}


def test_the_report_has_every_section_table_and_figure(reproduced):
    name, _, _, out, _ = reproduced
    text = (out / "report.md").read_text()
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    for section in SECTIONS[name]:
        assert any(h.startswith(section) for h in headings), section
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert sorted(images) == pngs and len(pngs) == FIGURES[name]
    for png in pngs:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    parser = Images()
    parser.feed((out / "report.html").read_text())
    assert parser.sources == images  # the HTML shows the same figures, in the same order
    assert "smoke plan" in headings[0]


def test_published_numbers_stand_beside_ours_and_the_verdict_is_the_computed_one(reproduced):
    name, _, db, out, _ = reproduced
    text = (out / "report.md").read_text()
    if name == "cong2016":
        row = next(line for line in text.splitlines() if line.startswith("| 1 | "))
        table = pub.PRACTICAL_ACCURACY[1]
        assert row.startswith(f"| 1 | {table[10]:.1f} / {table[50]:.1f} / {table[100]:.1f} | ")
        assert f"| 1 | {pub.BREAKDOWN_COMMUNICATION['NLC-F'][1]:.1f} | " in text
    else:
        v = judge(load_results(STUDIES.get(name), PLAN, db, out))
        assert statement(v) in text.split("## Verdict")[1].split("##")[0]


def test_a_run_that_reused_its_worker_s_dataset_and_probe_is_the_run_made_afresh(reproduced):
    name, _, db, _, _ = reproduced
    method = "predicted" if name == "cong2016" else "topk-ef"
    ((config, summary),) = rows(
        db, "SELECT r.config, r.summary FROM runs r JOIN sweep_runs m USING (run_id) WHERE m.method = ? "
        "ORDER BY m.position DESC LIMIT 1", method,
    )  # fmt: skip
    alone = run_job(Job.from_config(RunConfig.from_dict(json.loads(config)), name=method), None)
    assert json.loads(summary)["params_sha256"] == alone.summary["params_sha256"]
    assert json.loads(summary)["lr"] == alone.summary["lr"]


def test_rerunning_skips_every_finished_run(reproduced, capsys, monkeypatch):
    name, argv, db, out, _ = reproduced
    # the report is written again with blank figures (the tests above checked the drawn ones)
    monkeypatch.setattr(StudyResults, "figure", blank_figure)
    before = rows(db, "SELECT run_id, finished, attempts FROM runs ORDER BY run_id")
    (out / "report.md").unlink()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    parts = STUDIES.get(name).parts
    assert printed.count(" done before, 0 to run ") == len(parts), printed
    assert rows(db, "SELECT run_id, finished, attempts FROM runs ORDER BY run_id") == before
    assert rows(db, "SELECT count(*) FROM sessions") == [(1,)]  # nothing ran: no new session
    assert (out / "report.md").is_file()


def test_a_stop_keeps_what_finished_and_the_next_run_does_only_the_rest(tmp_path):
    study = STUDIES.get("candela2019")
    # two of its parts (29 runs, not the study's 175): a stop in the first, the second never started
    sweeps = [(part, sweep) for part, sweep in study.sweeps(PLAN, ["dataset=synthetic", "model=logreg",
              "updates=8", "eval_every=4"]) if part.key in ("rate", "links")]  # fmt: skip
    assert [part.key for part, _ in sweeps] == ["rate", "links"]
    finished: list[str] = []
    with ResultsDB(tmp_path / "cut.db") as db:
        parts = run_study(study, sweeps, db, workers=2, stop=lambda: len(finished) >= 3,
                          listener=lambda run, outcome, _: finished.append(outcome.status))  # fmt: skip
        assert parts[0].progress is not None and parts[0].progress.interrupted
        assert parts[1].progress is None  # the later part never started
        done = rows(tmp_path / "cut.db", "SELECT count(*) FROM runs WHERE status = 'done'")[0][0]
        assert 3 <= done < len(sweeps[0][1].unique_runs())
        again = run_study(study, sweeps, db, workers=2)
    assert again[0].progress is not None and again[0].progress.skipped == done
    total = len({r.run_id for _, s in sweeps for r in s.unique_runs()})  # parts may share runs
    assert rows(tmp_path / "cut.db", "SELECT count(*) FROM runs WHERE status = 'done'") == [(total,)]
