"""``trace.csv`` rows are joined directly when no field needs quoting: the bytes must be the csv
writer's, for every kind of value a push can carry."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from asyncsgd.metrics.recorder import TRACE_COLUMNS, Recorder, trace_row
from asyncsgd.vocabulary.messages import ApplyRecord
from asyncsgd.vocabulary.reporting import Timing

RECORDS = [
    ApplyRecord(learner=2, pulled_version=7, version=9, tau=2, nbytes=407080, grad_norm=1.25, lr=0.05),
    ApplyRecord(
        learner=np.int64(1), pulled_version=np.int64(0), version=3, tau=np.int64(3), nbytes=12,
        applied=False, grad_norm=math.inf, lr=math.nan,
    ),
    ApplyRecord(learner=0, pulled_version=0, version=0, tau=0, nbytes=0, grad_norm=-0.0, lr=1e-300),
    ApplyRecord(
        learner=5, pulled_version=9, version=4, tau=0, nbytes=8, accepted=False, applied=False,
        reason='pulled version 9 outside [0, 4], "late"', code="version",
    ),
]  # fmt: skip
TIMINGS = [
    Timing(pull=1e-7, compute=0.123456789, push=3.0, wait=0.0, apply=2.5e-5, end=12345.6789012, bytes_down=8),
    Timing(compress=math.nan, end=0.0, bytes_down=np.int64(407080)),
]
LOSSES = [2.302585, math.nan, -math.inf, 1e20]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("timing", TIMINGS)
def test_trace_rows_are_the_bytes_the_csv_writer_writes(tmp_path, timing, loss):
    recorder = Recorder(tmp_path, 100, 10**9, lambda p: {}, 8)
    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(TRACE_COLUMNS)
    for n, record in enumerate(RECORDS, start=1):
        recorder.on_push(record, timing, loss, 32)
        writer.writerow(trace_row(n, record, timing, loss))
    recorder.close()
    written = (tmp_path / "trace.csv").read_bytes()
    assert written == expected.getvalue().encode()
    assert b'"pulled version 9 outside [0, 4], ""late"""' in written  # the one field that needs quotes
