"""The ``ray`` engine on a real Ray cluster (loopback): staleness, bytes, time, shards, bad input,
the same math as the simulator, and the same summary and accuracy as ``sim`` and ``local``.

Every run joins the session's loopback head (``ray_head``); every actor process it started must be
gone after the run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asyncsgd.assembly.job import Job
from asyncsgd.engines.ray.wire import chunked
from asyncsgd.errors import ConfigError
from asyncsgd.experiment.runner import run_job
from asyncsgd.metrics import Recorder, params_sha256
from tests.conftest import make_job, run_sim
from tests.engines.conftest import LOOPBACK, actor_pids, wait_gone
from tests.engines.test_local import faulty_learner, read_trace

pytestmark = pytest.mark.slow


def ray_job(synthetic, address: str, **settings) -> Job:
    base = {"engine": "ray", "learners": 4, "updates": 300, "model": "logreg", "ray_address": address}
    return make_job(synthetic, **{**base, **settings})


def run_ray(job: Job, out_dir: Path | None = None, recorder: Recorder | None = None, **engine):
    from asyncsgd.engines.ray import RayEngine

    recorder = recorder or Recorder(out_dir, job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
    result = RayEngine(**engine).run(job, recorder)
    recorder.close()
    assert result.extra["cluster"]["nodes"] == [LOOPBACK]
    assert wait_gone(actor_pids(result.extra)) == [], "actor processes outlived the run"
    return result, recorder


def check_trace(trace: list[dict[str, str]], updates: int, up: int, downs: set[int]) -> None:
    """The trace is the apply order, τ of every push counts exactly the others' updates, and its
    bytes are the push's and those of one of the possible pulls."""
    assert [int(r["version"]) for r in trace] == list(range(1, updates + 1))
    last_version: dict[int, int] = {}
    for n, row in enumerate(trace):
        i, pulled, tau = int(row["learner"]), int(row["pulled_version"]), int(row["tau"])
        assert tau == int(row["version"]) - 1 - pulled >= 0
        assert all(int(r["learner"]) != i for r in trace[n - tau : n])
        assert pulled >= last_version.get(i, 0)  # a learner pulls after its previous push applied
        last_version[i] = int(row["version"])
        assert int(row["bytes_up"]) == up and int(row["bytes_down"]) in downs


def test_four_learners_tau_bytes_and_time(synthetic, ray_head, tmp_path):
    job = ray_job(synthetic, ray_head, codec="topk", ratio=0.1, error_feedback=True)
    result, rec = run_ray(job, tmp_path)
    trace = read_trace(tmp_path / "trace.csv")
    d = result.params.numel()
    k = int(0.1 * d)
    assert result.version == 300 and rec.pushes == len(trace) == 300
    assert {int(r["learner"]) for r in trace} == {0, 1, 2, 3}
    assert max(int(r["tau"]) for r in trace) >= 1
    # a pull is the whole vector, or only the k coordinates of the learner's own push when no
    # other push landed since its last pull (more than one push: more than the log's 132 // 8)
    check_trace(trace, 300, k * (4 + 4), {4 * d, k * (4 + 4)})
    assert rec.bytes_up == 300 * k * 8 and rec.bytes_down == sum(int(r["bytes_down"]) for r in trace)
    # each learner's phases add up to the run's wall time, except the start (learners begin their
    # run calls a few ms apart) and the end (the last push was refused once the budget was spent):
    # 10% + 100 ms
    for i in range(4):
        total = sum(rec.phase_totals[i].values())
        assert abs(total - result.time) <= 0.1 * result.time + 0.1, (i, total, result.time)
        assert rec.phase_totals[i]["compute"] > 0 and rec.phase_totals[i]["apply"] > 0
        assert rec.phase_totals[i]["push"] > 0
    assert result.extra["deaths"] == [] and result.extra["shard_versions"] == [300]


SPARSE = {"codec": "topk", "ratio": 0.02, "error_feedback": True}
"""2 of logreg's 132 coordinates per push: a shard (width 132 // 8) answers with the changed ones."""
WIDE = {"codec": "topk", "ratio": 0.2, "error_feedback": True}
"""26 coordinates per push, more than one shard's change log takes (two shards: it depends on
how a push falls across them)."""


@pytest.mark.parametrize(
    "part", [{"rule": "momentum"}, SPARSE, {"remedy": "dc_asgd"}], ids=["momentum", "changes", "dc_asgd"]
)
def test_recorded_staleness_replays_in_sim_bit_for_bit(synthetic, ray_head, tmp_path, part):
    """τ is exact: replaying the recorded (learner, τ) sequence gives the run's parameters. That
    holds only if answers with only the changed coordinates leave each learner's copy exact, and
    if DC-ASGD's backup is each learner's pulled point."""
    settings = {"learners": 3, "updates": 200, "lr": 0.05, **part}
    result, _ = run_ray(ray_job(synthetic, ray_head, **settings), tmp_path)
    replay = make_job(synthetic, model="logreg", schedule="trace", trace=str(tmp_path), **settings)
    replayed, _ = run_sim(replay)
    assert params_sha256(replayed.params) == params_sha256(result.params)
    if part is SPARSE:
        size, down = result.params.numel(), [int(r["bytes_down"]) for r in read_trace(tmp_path / "trace.csv")]
        assert result.extra["change_pulls"] > 0 and 4 * size in down
        assert sum(d < 4 * size for d in down) >= result.extra["change_pulls"] // 2  # a push after each


@pytest.mark.parametrize("shards", [1, 2])
@pytest.mark.parametrize("part", [WIDE, SPARSE, {"remedy": "dc_asgd"}], ids=["whole", "changes", "dc_asgd"])
def test_one_learner_is_the_simulator_bit_for_bit(synthetic, ray_head, shards, part):
    settings = {"learners": 1, "updates": 50, **part}
    result, _ = run_ray(ray_job(synthetic, ray_head, shards=shards, **settings))
    reference, _ = run_sim(make_job(synthetic, model="logreg", delay="constant", **settings))
    assert torch.equal(result.params, reference.params)
    assert result.extra["shard_versions"] == [50] * shards
    changes = result.extra["change_pulls"]
    if part is SPARSE:  # every answer after the first pull and before the last push
        assert changes == 49 * shards, changes
    elif part is not WIDE:  # dense: no change log (WIDE: a shard's part of a push may be narrow)
        assert changes == 0, changes


MID = 3000
"""mlp width of 111,004 parameters (444 kB): a whole answer or a dense push travels as inline
chunks, with one shard (five chunks) and with two (three each)."""
LARGE = 20000
"""mlp width of 740,004 parameters (2.96 MB): a whole answer goes through the object store, and
the changes of one push of 5% of them (37,000, 296 kB) come back as inline chunks."""
CHUNKED = [
    (MID, {"codec": "identity"}),
    (MID, {"codec": "topk", "ratio": 0.5}),
    (LARGE, {"codec": "topk", "ratio": 0.05, "error_feedback": True}),
    (LARGE, {"codec": "topk", "ratio": 0.4, "error_feedback": True}),
]
"""Dense pushes and answers in chunks; sparse pushes and whole answers in chunks; answers with
changes only, in chunks; pushes changing more coordinates than a shard logs (296,000 of
740,004), so every answer is whole and travels through the store, with no chunks asked for."""


@pytest.mark.parametrize("shards", [1, 2])
@pytest.mark.parametrize("width, part", CHUNKED, ids=["dense", "whole", "changes", "wide"])
def test_inline_chunks_carry_pushes_and_answers_bit_for_bit(synthetic, ray_head, shards, width, part):
    settings = {"model": "mlp", "hidden": [width], "learners": 1, "updates": 20, **part}
    size = make_job(synthetic, **settings).layout().size // shards
    changes = int(part.get("ratio", 1.0) * size)
    if width == MID:
        assert chunked(4 * size), "a whole answer must come in chunks"
    else:
        assert not chunked(4 * size) and chunked(8 * changes) == (part["ratio"] == 0.05)
    result, _ = run_ray(ray_job(synthetic, ray_head, shards=shards, **settings))
    reference, _ = run_sim(make_job(synthetic, delay="constant", **settings))
    assert torch.equal(result.params, reference.params)
    if width == LARGE:  # changes: every answer after the first pull and before the last push
        assert result.extra["change_pulls"] == (19 * shards if chunked(8 * changes) else 0)


@pytest.mark.parametrize("width, part", [CHUNKED[0], CHUNKED[2]], ids=["dense", "changes"])
def test_inline_chunks_keep_staleness_exact(synthetic, ray_head, tmp_path, width, part):
    settings = {"model": "mlp", "hidden": [width], "learners": 3, "updates": 60, "lr": 0.05, **part}
    result, _ = run_ray(ray_job(synthetic, ray_head, **settings), tmp_path)
    replayed, _ = run_sim(make_job(synthetic, schedule="trace", trace=str(tmp_path), **settings))
    assert params_sha256(replayed.params) == params_sha256(result.params)


def test_local_steps_pull_after_the_steps(synthetic, ray_head):
    """EASGD's cycle (steps, then pull, then push): one learner gives the simulator's parameters."""
    settings = {"learners": 1, "updates": 30, "algorithm": "easgd", "exchange_period": 2}
    result, _ = run_ray(ray_job(synthetic, ray_head, **settings))
    reference, _ = run_sim(make_job(synthetic, model="logreg", delay="constant", **settings))
    assert torch.equal(result.params, reference.params)


@pytest.mark.parametrize("codec", ["identity", "topk"])
def test_sharded_budget_is_exact_and_staleness_per_shard(synthetic, ray_head, tmp_path, codec):
    result, _ = run_ray(ray_job(synthetic, ray_head, shards=2, updates=200, codec=codec), tmp_path)
    assert result.version == 200 and result.extra["shard_versions"] == [200, 200]
    per_shard = result.extra["staleness_per_shard"]
    assert [s["count"] for s in per_shard] == [200, 200]
    trace = read_trace(tmp_path / "trace.csv")
    assert sorted(int(r["version"]) for r in trace) == list(range(1, 201))
    assert max(int(r["tau"]) for r in trace) == max(s["max"] for s in per_shard)


def test_bad_pushes_are_rejected_counted_and_change_nothing(synthetic, ray_head, tmp_path):
    settings = {"learners": 3, "updates": 150, "lr": 0.05}
    result, _ = run_ray(ray_job(synthetic, ray_head, **settings), tmp_path, learner_factory=faulty_learner)
    trace = read_trace(tmp_path / "trace.csv")
    bad = [r for r in trace if r["accepted"] == "0"]
    assert bad and all(r["learner"] == "1" for r in bad)
    assert set(result.rejected) == {1} and sum(result.rejected[1].values()) == len(bad)
    assert len(result.rejected[1]) >= 3
    replay = make_job(synthetic, model="logreg", schedule="trace", trace=str(tmp_path), **settings)
    replayed, _ = run_sim(replay)
    assert params_sha256(replayed.params) == params_sha256(result.params)


ENGINES = ("sim", "local", "ray")


def summary_of(synthetic, tmp_path: Path, engine: str, address: str, **settings) -> dict:
    job = make_job(synthetic, engine=engine, ray_address=address, **settings)
    return run_job(job, tmp_path / engine).summary


def test_same_summary_and_comparable_accuracy_as_sim_and_local(synthetic, ray_head, tmp_path):
    settings = {"model": "logreg", "learners": 4, "batch_size": 16, "lr": 0.1, "updates": 400, "seed": 3}
    sim, local, ray = (summary_of(synthetic, tmp_path, e, ray_head, **settings) for e in ENGINES)
    # same summary, whichever engine: only the simulator has no engine_info
    assert set(ray) == set(local) == set(sim) | {"engine_info"}
    assert set(ray["time"]) == set(local["time"]) and set(ray["bytes"]) == set(local["bytes"])
    assert ray["updates"] == local["updates"] == sim["updates"] == 400
    # Comparable accuracy. Over 12 seeds, this task's final test accuracy (1,024 test samples)
    # has a spread σ ≈ 0.005 in the simulator (0.815 ± 0.005 with exponential delays, 0.817 ±
    # 0.005 with constant ones). The three engines run the same data order but different
    # staleness schedules, so their results differ like two independent runs: σ_diff ≈ √2·σ ≈
    # 0.007. A tolerance of 0.03 (over 4 σ_diff) fails by chance with probability below 1e-4,
    # and still catches a broken engine (chance is 0.25; a run that skips or doubles updates,
    # or uses stale parameters everywhere, lands far below).
    accuracies = [s["final_test_accuracy"] for s in (sim, local, ray)]
    assert max(accuracies) - min(accuracies) <= 0.03, accuracies
    assert min(accuracies) > 0.75


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"hogwild": True}, "hogwild"),
        ({"ssp_bound": 1}, "ssp_bound"),
        ({"partition": "shared"}, "partition"),
        ({"protocol": "sync"}, "protocol"),
        ({"schedule": "fixed"}, "schedule"),
        ({"shards": 10**9}, "shards"),
        ({"device": "cuda"}, "ray_gpus_per_learner"),
        ({"ray_cpus_per_learner": -1.0}, "ray_cpus_per_learner"),
    ],
)
def test_settings_the_ray_engine_cannot_run_are_refused(synthetic, settings, key):
    with pytest.raises(ConfigError) as err:
        make_job(synthetic, engine="ray", **settings)
    assert err.value.key == key


def test_a_cluster_too_small_is_a_one_line_error(synthetic, ray_head):
    job = ray_job(synthetic, ray_head, ray_cpus_per_learner=100.0)
    with pytest.raises(ConfigError) as err:
        run_ray(job)
    assert err.value.key == "ray_cpus_per_learner" and "cluster has 8" in str(err.value)


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_asyncsgd_does_not_import_ray():
    done = python(
        "import sys, asyncsgd.cli.main, asyncsgd.experiment.runner, asyncsgd.engines.ray\n"
        "sys.exit(int('ray' in sys.modules))"
    )
    assert done.returncode == 0, done.stderr


def test_choosing_the_engine_without_ray_names_the_extra():
    # sys.modules["ray"] = None: importlib finds no "ray", and importing it fails, as when absent
    done = python(
        "import sys; sys.modules['ray'] = None\n"
        "from asyncsgd.cli.main import main\n"
        "sys.exit(main(['run', '--set', 'engine=ray', '--set', 'dataset=synthetic', '--set', 'model=logreg', "
        "'--set', 'epochs=0', "
        "'--set', 'updates=5']))"
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "asyncsgd: error: engine: engine 'ray' needs the ray package: pip install 'asyncsgd[ray]'"
    )


class Watching(Recorder):
    """Notes the SIGTERM handler in force while the run delivers pushes."""

    def on_push(self, record, timing, loss, samples):
        super().on_push(record, timing, loss, samples)
        self.during = signal.getsignal(signal.SIGTERM)


def test_the_callers_signal_handlers_stay_in_force_during_and_after_a_run(synthetic, ray_head):
    """``ray.init`` makes SIGTERM exit the process: a run's graceful stop, and a library user's own
    handler, would be gone."""

    def mine(signum, frame):  # pragma: no cover (never called)
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        job = ray_job(synthetic, ray_head, learners=1, updates=20)
        recorder = Watching(None, job.dataset.n_train, 10**9, lambda p: {}, 1)
        run_ray(job, recorder=recorder)
        assert recorder.during is mine and signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
