"""Local SGD, EASGD and EAMSGD on the simulator: exact reductions, independent replays of the
published rules from the trace, accounting, and the combinations that are refused."""

from __future__ import annotations

import csv

import pytest
import torch

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.config import RunConfig
from asyncsgd.errors import ConfigError
from asyncsgd.metrics import params_sha256
from asyncsgd.vocabulary.flat import FlatModel
from asyncsgd.vocabulary.settings import names
from tests.conftest import run_sim

ASYNC = {"learners": 3, "delay": "exponential", "updates": 40, "lr": 0.05}


def trace(path) -> list[dict[str, str]]:
    with open(path / "trace.csv") as f:
        return list(csv.DictReader(f))


def test_every_algorithm_declares_settings_and_a_reference():
    keys = set(RunConfig.keys())
    for entry in ALGORITHMS:
        assert (
            set(names(entry.factory.settings)) <= keys and entry.factory.reference and entry.factory.__doc__
        )


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"codec": "topk", "ratio": 0.1, "error_feedback": True},
        {"remedy": "staleness_lr"},
        {"codec": "qsgd", "rule": "momentum"},
        {"protocol": "sync"},
        {"schedule": "fixed", "staleness": 3},
    ],
)
def test_local_sgd_with_one_step_is_downpour_bit_for_bit(job_factory, tmp_path, extra):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    down, _ = run_sim(job_factory(**{**ASYNC, **extra}), tmp_path / "a")
    local, _ = run_sim(job_factory(**{**ASYNC, **extra}, algorithm="localsgd", local_steps=1), tmp_path / "b")
    assert params_sha256(down.params) == params_sha256(local.params)
    assert (tmp_path / "a" / "trace.csv").read_bytes() == (tmp_path / "b" / "trace.csv").read_bytes()


@pytest.mark.parametrize("steps", [2, 5])
def test_local_sgd_replays_from_the_trace(job_factory, tmp_path, steps):
    """Independent replay: push k of learner i starts at the server's version it pulled, takes
    `steps` SGD steps on i's next batches, and the server subtracts γ times their gradient sum."""
    job = job_factory(**ASYNC, algorithm="localsgd", local_steps=steps)
    result, recorder = run_sim(job, tmp_path)
    flat = FlatModel(job.model_factory())
    history, streams, lr = [flat.params.clone()], job.streams(), job.config.lr
    for row in trace(tmp_path):
        x, total = history[int(row["pulled_version"])].clone(), torch.zeros_like(history[0])
        for _ in range(steps):
            flat.gradient(x, *job.batch(streams.next(int(row["learner"]))))
            total += flat.grads
            x -= lr * flat.grads
        history.append(history[-1] - lr * total)
    torch.testing.assert_close(result.params, history[-1], rtol=0, atol=1e-6)
    assert recorder.samples == 40 * steps * job.config.batch_size
    assert max(recorder.tau) >= 2


def test_synchronous_local_sgd_is_periodic_model_averaging(job_factory):
    p, steps, rounds = 3, 4, 6
    job = job_factory(learners=p, protocol="sync", algorithm="localsgd", local_steps=steps, updates=rounds)
    result, _ = run_sim(job)
    flat = FlatModel(job.model_factory())
    x, streams, lr = flat.params.clone(), job.streams(), job.config.lr
    for _ in range(rounds):
        models = []
        for i in range(p):
            local = x.clone()
            for _ in range(steps):
                flat.gradient(local, *job.batch(streams.next(i)))
                local -= lr * flat.grads
            models.append(local)
        x = torch.stack(models).mean(0)
    torch.testing.assert_close(result.params, x, rtol=0, atol=1e-5)


@pytest.mark.parametrize("algorithm", ["easgd", "eamsgd"])
def test_elastic_averaging_replays_from_the_trace(job_factory, tmp_path, algorithm):
    """Zhang et al. 2015, Algorithms 1 and 2, replayed push by push: learner i takes τ_c local
    steps from its own point, pulls the centre at the version in the trace, exchanges
    e = α(x^i − x̃) and the server adds e to the centre."""
    tau_c, alpha, delta = 3, 0.2, 0.7
    job = job_factory(
        **ASYNC,
        latency=0.4,
        algorithm=algorithm,
        exchange_period=tau_c,
        elastic_alpha=alpha,
        local_momentum=delta,
    )
    result, recorder = run_sim(job, tmp_path)
    assert max(recorder.tau) >= 1  # exchanges in flight while others land: stale centres
    flat = FlatModel(job.model_factory())
    lr, streams = job.config.lr, job.streams()
    centre = [flat.params.clone()]
    local = {i: flat.params.clone() for i in range(3)}
    velocity = {i: torch.zeros_like(flat.params) for i in range(3)}
    for row in trace(tmp_path):
        i = int(row["learner"])
        for _ in range(tau_c):
            if algorithm == "easgd":
                flat.gradient(local[i], *job.batch(streams.next(i)))
                local[i] -= lr * flat.grads
            else:
                flat.gradient(local[i] + delta * velocity[i], *job.batch(streams.next(i)))
                velocity[i] = delta * velocity[i] - lr * flat.grads
                local[i] += velocity[i]
        e = alpha * (local[i] - centre[int(row["pulled_version"])])
        local[i] -= e
        centre.append(centre[-1] + e)
    torch.testing.assert_close(result.params, centre[-1], rtol=0, atol=1e-6)
    assert recorder.samples == 40 * tau_c * job.config.batch_size
    assert all(row["lr"] == "1" for row in trace(tmp_path))  # the centre adds e as pushed


def test_elastic_averaging_learns(job_factory):
    job = job_factory(learners=4, algorithm="eamsgd", exchange_period=4, elastic_alpha=0.2, epochs=3.0)
    result, recorder = run_sim(job)
    flat = FlatModel(job.model_factory())
    data = job.dataset
    before = flat.evaluate(flat.params.clone(), data.x_test, data.y_test)[1]
    after = flat.evaluate(result.params, data.x_test, data.y_test)[1]
    assert after > before + 0.2
    assert recorder.samples >= 3 * data.n_train


def test_local_steps_run_under_fixed_staleness(job_factory, tmp_path):
    job = job_factory(schedule="fixed", staleness=2, algorithm="easgd", exchange_period=2, updates=12)
    result, recorder = run_sim(job, tmp_path)
    assert result.version == 12 and recorder.samples == 12 * 2 * job.config.batch_size
    assert max(int(r["tau"]) for r in trace(tmp_path)) == 2


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"algorithm": "easgd", "rule": "momentum"}, "rule"),
        ({"algorithm": "eamsgd", "protocol": "sync"}, "protocol"),
        ({"algorithm": "localsgd", "remedy": "dc_asgd"}, "remedy"),
        ({"algorithm": "easgd", "remedy": "staleness_lr+dc_asgd_adaptive"}, "remedy"),
        ({"local_steps": 4}, "local_steps"),
        ({"rule": "async_momentum", "protocol": "sync"}, "rule"),
        ({"ssp_bound": 2, "protocol": "sync"}, "ssp_bound"),
        ({"ssp_bound": 0, "schedule": "fixed"}, "ssp_bound"),
        ({"exchange_period": 4}, "exchange_period"),
        ({"algorithm": "easgd", "exchange_period": 2, "local_steps": 2}, "local_steps"),
        ({"algorithm": "hogwild"}, "algorithm"),
        ({"elastic_alpha": 0.0}, "elastic_alpha"),
        ({"local_steps": 0}, "local_steps"),
        ({"dc_lambda": -1.0}, "dc_lambda"),
        ({"stale_bound": -1.0}, "stale_bound"),
        ({"ssp_bound": -2}, "ssp_bound"),
        ({"levels": 0}, "levels"),
        ({"threshold": 0.0}, "threshold"),
        ({"clip": -1.0}, "clip"),
    ],
)
def test_refused_combinations_name_the_setting(job_factory, settings, key):
    with pytest.raises(ConfigError) as err:
        job_factory(**settings)
    assert err.value.key == key and "\n" not in str(err.value)


def test_staleness_remedies_apply_to_every_algorithm(job_factory):
    for algorithm in ("localsgd", "easgd", "eamsgd"):
        for remedy in ("staleness_lr", "staleness_lr_plus1", "drop_stale"):
            steps = {"local_steps" if algorithm == "localsgd" else "exchange_period": 2}
            job = job_factory(algorithm=algorithm, **steps, remedy=remedy, stale_bound=3, updates=10)
            result, _ = run_sim(job)
            assert result.version == 10


def test_codecs_defined_with_feedback_always_run_with_it(job_factory):
    for codec in ("efsign", "onebit", "threshold", "dropping"):
        job = job_factory(codec=codec, error_feedback=False, updates=5)
        assert job.config.error_feedback is True
        assert job.learner(0, job.flat_model()).memory is not None
    assert job_factory(codec="sign").config.error_feedback is False


def test_every_part_writes_the_same_outputs(tmp_path):
    """One experiment with an algorithm, a codec defined with feedback, a remedy with state and an
    optimizer of each new kind: every method writes its trace, metrics and summary."""
    import json

    import asyncsgd

    methods = {
        "eamsgd": {"algorithm": "eamsgd", "exchange_period": 2},
        "localsgd-ssp": {"algorithm": "localsgd", "local_steps": 3, "ssp_bound": 1},
        "dc-onebit": {"remedy": "dc_asgd_adaptive", "codec": "onebit", "rule": "adagrad", "lr": 0.5},
        "qsgd-async-momentum": {"codec": "qsgd", "rule": "async_momentum", "remedy": "staleness_lr_plus1"},
    }
    exp = asyncsgd.compare("mlp", "synthetic", updates=24, learners=3, out=tmp_path, methods=methods)
    summary = json.loads((tmp_path / "summary.json").read_text())["methods"]
    assert set(summary) == set(methods)
    for name in methods:
        assert (tmp_path / name / "trace.csv").exists() and (tmp_path / name / "metrics.csv").exists()
        assert summary[name]["updates"] == 24 and summary[name]["stop_reason"] == "budget"
    d = summary["dc-onebit"]["parameters"]
    assert summary["dc-onebit"]["error_feedback"] is True  # onebit is defined with it
    assert summary["dc-onebit"]["server_memory_bytes"] == 3 * 4 * d + 4 * d + 4 * d  # backups, mean square, G
    assert summary["eamsgd"]["algorithm"] == "eamsgd" and summary["eamsgd"]["samples"] == 24 * 2 * 32
    assert summary["qsgd-async-momentum"]["bytes"]["compression"] < 0.2
    assert exp.methods[0].name == "eamsgd"
