"""The capacity model is the simulator's clock without tensors: same times, same staleness, and the
bounds and monotonicity a queue must have."""

from __future__ import annotations

import itertools
import math

import pytest
from benchmarks.capacity import sampler

from asyncsgd.engines.sim import simulated_time as simtime
from asyncsgd.engines.sim.engine import SimEngine
from asyncsgd.errors import ConfigError
from asyncsgd.theory.capacity import Cluster, bound, predict, simulate
from tests.conftest import make_job


class Trace:
    """A monitor that keeps (learner, τ, end, wait) of every push."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, float, float]] = []

    def on_push(self, record, timing, loss, samples):
        self.rows.append((record.learner, record.tau, timing.end, timing.wait))

    def eval_due(self, version):
        return False

    def stop_requested(self):
        return False


CASES = [
    {"learners": 1, "delay": "constant", "server_time": 0.2, "latency": 0.05, "bandwidth": 1e4},
    {"learners": 3, "delay": "exponential", "server_time": 0.3, "latency": 0.1},
    {"learners": 4, "delay": "constant", "server_time": 0.5},  # ties everywhere: order decides τ
    {
        "learners": 5,
        "delay": "lognormal",
        "server_time": 0.05,
        "bandwidth": 2e3,
        "codec": "topk",
        "ratio": 0.1,
    },
]


@pytest.mark.parametrize("settings", CASES, ids=lambda s: f"p{s['learners']}-{s['delay']}")
def test_the_model_is_the_simulators_clock(synthetic, settings):
    job = make_job(synthetic, updates=80, **settings)
    trace = Trace()
    SimEngine().run(job, trace)
    cfg = job.config
    flat = job.flat_model()
    d, push_bytes = flat.size, job.codec(flat.layout).estimate_nbytes()
    cluster = Cluster(
        learners=cfg.learners,
        push_bytes=push_bytes,
        pull_bytes=4 * d,
        latency=cfg.latency,
        bandwidth=cfg.bandwidth,
        apply_time=cfg.server_time,
    )
    model = simulate(cluster, simtime.delays(cfg), len(trace.rows))
    assert [(p.learner, p.tau, p.end) for p in model] == [row[:3] for row in trace.rows]
    assert push_bytes < 4 * d or "codec" not in settings
    assert [p.waited for p in model] == pytest.approx([row[3] for row in trace.rows], abs=1e-12)


def test_the_trace_case_exercises_queueing_and_staleness(synthetic):
    """The equality above is not vacuous: the server queues and τ varies."""
    job = make_job(synthetic, updates=80, **CASES[1])
    trace = Trace()
    SimEngine().run(job, trace)
    assert len({row[1] for row in trace.rows}) > 2 and max(row[3] for row in trace.rows) > 0


def cluster(p: int, s: int = 1, **kw) -> Cluster:
    base = {"push_bytes": 4e6, "pull_bytes": 4e6, "latency": 1e-4, "bandwidth": 1.25e9, "apply_time": 0.01}
    return Cluster(learners=p, shards=s, **{**base, **kw})


@pytest.mark.parametrize("links", [False, True])
def test_never_above_the_bound(links):
    for p in (1, 4, 16, 64):
        for s in (1, 4, 16):
            c = cluster(p, s, server_links=links, pull_time=0.002)
            got = predict(c, sampler("exponential", 0.05, p), 0.05, updates=600)
            assert got.updates_per_s <= got.bound * 1.02
            assert got.updates_per_s <= min(p / 0.05, s / c.apply_time) * 1.02


def test_a_saturated_server_is_relieved_by_shards_and_never_hurt():
    rates = [
        predict(cluster(64, s, server_links=True), sampler("exponential", 0.05, 64), 0.05, 1500).updates_per_s
        for s in (1, 2, 4, 8, 16, 32)
    ]
    assert rates[0] == pytest.approx(1 / 0.01, rel=0.05)  # one server: its apply is the limit
    assert all(b >= a * 0.98 for a, b in itertools.pairwise(rates))
    assert rates[-1] > 5 * rates[0]


def test_staleness_grows_with_learners_and_a_lone_learner_has_none():
    taus = [predict(cluster(p), sampler("constant", 0.05, p), 0.05, 800).tau_mean for p in (1, 4, 16)]
    assert taus[0] == 0 and taus[0] < taus[1] < taus[2]
    assert taus[2] == pytest.approx(15, abs=1.5)  # p − 1 others apply between a pull and its push


def test_shared_server_links_throttle_dense_pushes():
    slow = cluster(32, 1, server_links=True, bandwidth=1.25e8, apply_time=0.0)
    got = predict(slow, sampler("constant", 0.01, 32), 0.01, 800)
    assert got.updates_per_s == pytest.approx(1.25e8 / 4e6, rel=0.03)
    assert got.utilisation > 0.95


@pytest.mark.parametrize(
    "kw, key",
    [
        ({"learners": 0}, "learners"),
        ({"shards": 0}, "shards"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"latency": math.nan}, "latency"),
        ({"apply_time": -1.0}, "apply_time"),
    ],
)
def test_bad_input_is_one_line_naming_the_setting(kw, key):
    base = {"learners": 2, "push_bytes": 8.0, "pull_bytes": 8.0}
    with pytest.raises(ConfigError) as err:
        Cluster(**{**base, **kw})
    assert err.value.key == key and "\n" not in str(err.value)


def test_bad_update_count_is_refused():
    with pytest.raises(ConfigError, match="updates"):
        simulate(cluster(2), sampler("constant", 0.1, 2), 0)
    assert bound(cluster(2), 0.1) > 0


def test_the_predicted_curves_are_drawn(tmp_path):
    from asyncsgd.plots.capacity import capacity_plot

    rows = []
    for gbits in (10, 100):
        for p in (2, 4):
            for s in (1, 2):
                c = cluster(p, s, bandwidth=gbits * 1.25e8, server_links=True)
                got = predict(c, sampler("constant", 0.05, p), 0.05, 200)
                case = {"parameters": 10**6, "payload": "dense", "gbits": gbits}
                rows.append({**case, "learners": p, "shards": s, "updates_per_s": got.updates_per_s,
                             "unlimited_per_s": p / 0.05})  # fmt: skip
    path = capacity_plot(rows, (1, 2), tmp_path / "capacity.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000


def test_where_one_server_saturates_and_the_shards_a_p_needs():
    from benchmarks.capacity import shards_needed
    from benchmarks.capacity_doc import saturation

    rows = []
    for p in (16, 32, 64, 128, 256, 512, 1024):
        for s in (1, 2, 4, 8, 16, 32, 64):  # learners ask 10/s each, a shard serves 100·S/s
            rate = min(10.0 * p, 100.0 * s)
            rows.append({"parameters": 10**6, "payload": "dense", "gbits": 10, "learners": p, "shards": s,
                         "updates_per_s": rate, "unlimited_per_s": 10.0 * p})  # fmt: skip
    most, p_star = saturation({"rows": rows}, (10**6, "dense", 10))
    assert (most, p_star) == (100.0, 10.0)
    need = shards_needed(rows)[0]["shards_needed"]
    assert need == {16: 2, 32: 4, 64: 8, 128: 16, 256: 32, 512: 64, 1024: None}
