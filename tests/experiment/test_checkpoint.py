"""What a checkpoint may hold: plain values only, so it loads with ``weights_only=True`` and no
registered globals; the learners' and streams' states are plain and continue bit for bit."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
import torch

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.experiment.checkpoint import check_plain
from tests.conftest import make_job


def through_a_file(state: object) -> object:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True, map_location="cpu")


def cycle(job, learner, server, streams, i: int) -> None:
    for _ in range(learner.pre_steps):
        learner.local_step(job.batch(streams.next(i)))
    learner.receive(*server.pull(i))
    for _ in range(learner.post_steps):
        learner.local_step(job.batch(streams.next(i)))
    server.apply(learner.push())


def parts(job):
    flat = job.flat_model("cpu")
    learners = [job.learner(i, flat) for i in range(job.config.learners)]
    return learners, job.server(flat.params, flat.layout, copy=True), job.streams()


@pytest.mark.parametrize("partition", ["disjoint", "shared"])
@pytest.mark.parametrize("algorithm", ALGORITHMS.names())
def test_learner_and_stream_states_are_plain_and_continue_bit_for_bit(synthetic, algorithm, partition):
    period = {"localsgd": "local_steps", "easgd": "exchange_period", "eamsgd": "exchange_period"}
    settings = {period[algorithm]: 2} if algorithm in period else {}
    codec = {"codec": "randomk", "ratio": 0.3, "error_feedback": True}
    job = make_job(synthetic, algorithm=algorithm, learners=2, partition=partition, **codec, **settings)
    learners, server, streams = parts(job)
    for step in range(5):  # saved in the middle of a block of push seeds
        cycle(job, learners[step % 2], server, streams, step % 2)
    state = {
        "learners": [learner.state_dict() for learner in learners],
        "streams": streams.state(),
        "server": server.state_dict(),
    }
    check_plain(state)
    state = through_a_file(state)
    again, server2, streams2 = parts(job)
    for learner, saved in zip(again, state["learners"], strict=True):
        learner.load_state_dict(saved)
    streams2.load_state(state["streams"])
    server2.load_state_dict(state["server"])
    for step in range(5, 12):
        cycle(job, learners[step % 2], server, streams, step % 2)
        cycle(job, again[step % 2], server2, streams2, step % 2)
    assert torch.equal(server.params, server2.params)
    assert [learner.pushes for learner in again] == [learner.pushes for learner in learners]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (np.zeros(2), "checkpoint.a is a numpy.ndarray"),
        (np.int64(3), "checkpoint.a is a numpy.int64"),
        (np.float64(0.5), "checkpoint.a is a numpy.float64"),
        (b"\x80\x05N.", "checkpoint.a is a builtins.bytes"),
        (Counter({1: 2}), "checkpoint.a is a collections.Counter"),
        ({1.5: 1}, "checkpoint.a has a key of type float"),
        ([torch.zeros(2).to_sparse()], "checkpoint.a[0] is a torch.sparse_coo tensor"),
        (torch.nn.Parameter(torch.zeros(1)), "checkpoint.a is a torch.nn.parameter.Parameter"),
    ],
)
def test_anything_but_plain_values_is_named(value, says):
    with pytest.raises(TypeError) as err:
        check_plain({"a": value, "b": [1, 2.0, "x", None, True, (torch.zeros(1),), {3: {}}]})
    assert says in str(err.value)


def test_a_structure_that_contains_itself_or_shares_parts_is_checked_once():
    loop: list = []
    loop.append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        check_plain({"a": loop})
    shared: list = [0]
    for _ in range(200):  # 2^200 paths, 200 containers
        shared = [shared, shared]
    check_plain(shared)
