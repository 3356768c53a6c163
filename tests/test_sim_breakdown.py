"""The simulator's breakdown benchmark: exclusive times that add up, wrappers that come off."""

from __future__ import annotations

import time

import torch
from benchmarks import sim_breakdown as bd

from asyncsgd.assembly.job import Job
from asyncsgd.codecs.memory import ErrorFeedback, Memoryless
from asyncsgd.config import RunConfig
from asyncsgd.core.server import ParameterServer
from asyncsgd.vocabulary.flat import FlatModel
from tests.tiny import TINY


def test_a_part_inside_another_is_counted_once():
    clock = bd.Clock()
    inner = clock.wrap("inner", lambda: time.sleep(0.02))

    def outer_body():
        time.sleep(0.01)
        inner()

    start = time.perf_counter()
    clock.wrap("outer", outer_body)()
    total = time.perf_counter() - start
    assert clock.seconds["inner"] >= 0.02
    assert 0.01 <= clock.seconds["outer"] < 0.02 + 0.01
    assert abs(clock.seconds["inner"] + clock.seconds["outer"] - total) < 1e-3


def test_sim_parts_cover_the_run_and_leave_the_code_as_it_was():
    def now_bound():
        return (FlatModel.gradient, ParameterServer.apply, Memoryless.encode, ErrorFeedback.encode,
                torch.autograd.backward)  # fmt: skip

    originals = now_bound()
    job = Job.from_config(RunConfig.from_dict({**TINY, "eval_every": 10**6}))
    parts = bd.sim_parts(job)
    assert now_bound() == originals
    for part in ("backward", "forward and loss", "gradient into its payload", "norm (finiteness, grad_norm)",
                 "rule (SGD step)", "recorder"):  # fmt: skip
        assert parts[part] > 0, part
    assert abs(sum(v for k, v in parts.items() if k != "total") - parts["total"]) < 1e-9
    plain = bd.plain_parts(job)
    assert plain["backward"] > 0 and plain["optimizer step"] > 0
