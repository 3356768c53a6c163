"""``trace.csv``: one uniquely named column per quantity (with its unit), and traces read back for
replay, whether written now or before the columns were renamed, and checked when they come from
someone else."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from asyncsgd.delays.trace import TraceSchedule
from asyncsgd.errors import ConfigError
from asyncsgd.metrics.recorder import TRACE_COLUMNS
from tests.conftest import make_job, run_sim

ROOT = Path(__file__).resolve().parents[2]
OLD_HEADER = (
    "push,learner,pulled_version,version,tau,accepted,applied,bytes_up,bytes_down,loss,grad_norm,lr,"
    "end,pull,compute,compress,push,wait,apply,reason"
)


def recorded(synthetic, tmp_path: Path) -> Path:
    run_sim(make_job(synthetic, learners=3, updates=30), tmp_path)
    return tmp_path / "trace.csv"


def test_every_trace_column_has_a_unique_name_and_the_times_their_unit(synthetic, tmp_path):
    with recorded(synthetic, tmp_path).open(newline="") as f:
        header = next(csv.reader(f))
    assert len(set(header)) == len(header) == 20
    assert header[0] == "push_index" and {"push_s", "pull_s", "apply_s", "end_s", "bytes_up"} <= set(header)
    rows = list(csv.DictReader((tmp_path / "trace.csv").open(newline="")))
    assert [int(r["push_index"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(float(r["end_s"]) >= 0 and float(r["push_s"]) >= 0 for r in rows)


def test_the_docs_name_every_trace_column():
    page = (ROOT / "docs" / "configuration.md").read_text()
    block = page[page.index("<method>/trace.csv") : page.index("<method>/metrics.csv")]
    assert [c for c in TRACE_COLUMNS if c not in block.replace("\n", " ")] == []


def test_a_trace_with_the_old_header_replays_the_same_schedule(synthetic, tmp_path):
    new = recorded(synthetic, tmp_path)
    old = tmp_path / "old" / "trace.csv"
    old.parent.mkdir()
    lines = new.read_text().splitlines(keepends=True)
    old.write_text(OLD_HEADER + "\r\n" + "".join(lines[1:]))
    assert TraceSchedule.load(f"trace:{old}").steps == TraceSchedule.load(f"trace:{new}").steps
    job = make_job(synthetic, learners=3, updates=30, schedule="trace", trace=str(old.parent))
    result, _ = run_sim(job)
    assert result.version == 30


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("1,0,0,1,1000000000000,1,1", "τ=1000000000000 after 0 accepted pushes"),  # would size the replay
        ("1,0,0,1,-1,1,1", "τ=-1"),
        ("1,-1,0,1,0,1,1", "malformed trace row"),
        ("1,0,0,1,0,yes,1", "malformed trace row"),
        ("1,x,0,1,0,1,1", "malformed trace row"),
        ("1,0", "malformed trace row"),
    ],
)
def test_a_crafted_trace_is_refused_with_one_line(synthetic, tmp_path, row, says):
    trace = tmp_path / "trace.csv"
    trace.write_text("push_index,learner,pulled_version,version,tau,accepted,applied\n" + row + "\n")
    with pytest.raises(ConfigError) as err:
        make_job(synthetic, learners=3, updates=30, schedule="trace", trace=str(trace))
    assert err.value.key == "trace" and says in err.value.message and "\n" not in str(err.value)


def test_a_trace_that_is_not_text_is_refused_with_one_line(synthetic, tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_bytes(b"learner,tau,accepted\n\xff\xfe\x00,1,1\n")
    with pytest.raises(ConfigError) as err:
        make_job(synthetic, learners=3, updates=30, schedule="trace", trace=str(trace))
    assert err.value.key == "trace" and str(trace) in err.value.message
