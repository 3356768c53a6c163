"""Conformance: every registered engine runs every registered codec, remedy, rule and algorithm.

The parts are read from the registries (``CODECS``, ``REMEDIES``, ``OPTIMIZERS``, ``ALGORITHMS``,
``ENGINES``), so a new part is run on every engine, and a new engine over every part, without
touching this file. Each part runs alone on the default of every other (the sum of the parts, not
their product), on a tiny model with two learners. A run must spend its budget exactly, account for
every update and push, and end with finite parameters; an engine that cannot run a part must
refuse it before starting, with a ConfigError naming the part's key or one of its settings.

An engine whose run is mostly start-up (``ray``: a fresh actor process per learner and shard)
runs the parts packed instead, one of each kind per run (the k-th codec with the k-th remedy, rule
and algorithm), all in one Ray session: still every part, in about as many runs as the largest
registry has parts. Of a pack the engine refuses, a part it refuses alone must name itself; parts
it accepts alone but not together are split (:func:`packed_jobs`).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.codecs import CODECS
from asyncsgd.config import RunConfig
from asyncsgd.engines.ray.cluster import connect
from asyncsgd.errors import ConfigError
from asyncsgd.metrics import Recorder
from asyncsgd.metrics.summary import build_accounting
from asyncsgd.registry import Registry
from asyncsgd.rules import OPTIMIZERS, REMEDIES
from asyncsgd.vocabulary.reporting import EngineResult
from tests.engines.test_local import no_leftovers

__all__ = ["no_leftovers"]  # the fixture: no learner process outlives a run

pytestmark = pytest.mark.slow

UPDATES = 12
KINDS: dict[str, Registry[Any]] = {
    "codec": CODECS,
    "remedy": REMEDIES,
    "rule": OPTIMIZERS,
    "algorithm": ALGORITHMS,
}
"""The config key that names a part of each kind, and its registry."""
BASE: dict[str, Any] = {
    "dataset": "synthetic", "model": "mlp", "hidden": [16], "learners": 2, "batch_size": 16, "lr": 0.05,
    "updates": UPDATES, "delay": "exponential", "partition": "disjoint", "timeout": 60.0,
}  # fmt: skip

PACKED = {"ray"}
"""Engines whose parts run packed (start-up dominates their runs)."""
PARTS = [(kind, name) for kind, registry in KINDS.items() for name in registry.names()]
CASES = [
    pytest.param(engine, kind, name, id=f"{engine}-{kind}-{name}")
    for engine in ENGINES.names()
    if engine not in PACKED
    for kind, name in PARTS
]
PACKS = [
    {kind: registry.names()[k] for kind, registry in KINDS.items() if k < len(registry.names())}
    for k in range(max(len(registry.names()) for registry in KINDS.values()))
]
"""The k-th part of every kind that has one: every part is in exactly one pack."""
PACK_CASES = [
    pytest.param(engine, pack, id=f"{engine}-" + "+".join(pack.values()))
    for engine in ENGINES.names()
    if engine in PACKED
    for pack in PACKS
]


def test_every_registry_is_covered():
    """The battery reads the registries themselves: each holds parts, every engine is one, and
    every part is run on every engine, alone or packed."""
    assert all(len(registry.names()) > 1 for registry in KINDS.values())
    alone = {(c.values[0], c.values[1], c.values[2]) for c in CASES}
    packed = {(c.values[0], kind, name) for c in PACK_CASES for kind, name in c.values[1].items()}
    assert alone | packed == {(engine, *part) for engine in ENGINES.names() for part in PARTS}


@pytest.fixture(scope="module")
def ray_session(request):
    """One Ray session for the module's ``ray`` runs (each run uses it and leaves it open)."""
    head = request.getfixturevalue("ray_head")
    with connect(head, 0, 60.0):
        yield head


@pytest.fixture
def engine_settings(request) -> dict[str, Any]:
    """Settings an engine needs to run here: a ``ray`` run joins the session's loopback head."""
    engine = request.node.callspec.params["engine"]
    if engine == "ray":
        return {"ray_address": request.getfixturevalue("ray_session")}
    return {}


def build(synthetic, kind: str, name: str, **settings: Any) -> Job | None:
    """The job of one part on one engine, or None when the engine refuses the part, which it
    must do before anything runs, with a ConfigError naming the part's key or a setting of it."""
    declared = set(getattr(KINDS[kind].get(name), "settings", ()))
    try:
        return Job.from_config(RunConfig.from_dict({**BASE, kind: name, **settings}), dataset=synthetic)
    except ConfigError as err:
        assert err.key in {kind, *declared}, f"refusal names {err.key!r}, not {kind!r}: {err}"
        return None


def run(job: Job) -> tuple[EngineResult, Recorder]:
    recorder = Recorder(None, job.dataset.n_train, 10**9, lambda p: {}, job.config.learners)
    result = ENGINES.get(job.config.engine)().run(job, recorder)
    recorder.close()
    return result, recorder


def conforms(job: Job) -> None:
    """The run spends its budget exactly, accounts for every update and push, stays finite."""
    result, recorder = run(job)
    assert "stop_reason" not in result.extra, result.extra.get("stop_reason")
    assert result.version == UPDATES
    accounting = build_accounting(recorder, result)
    assert accounting["balanced"], accounting
    assert accounting["pushes"] >= UPDATES
    assert torch.isfinite(result.params).all()


@pytest.mark.parametrize(("engine", "kind", "name"), CASES)
def test_engine_runs_part(synthetic, engine_settings, no_leftovers, engine, kind, name):
    job = build(synthetic, kind, name, engine=engine, **engine_settings)
    if job is not None:
        conforms(job)


def pack_job(synthetic, pack: dict[str, str], **settings: Any) -> Job | None:
    """The job of the parts together, or None if the engine refuses them together."""
    try:
        return Job.from_config(RunConfig.from_dict({**BASE, **pack, **settings}), dataset=synthetic)
    except ConfigError:
        return None


def packed_jobs(synthetic, pack: dict[str, str], **settings: Any) -> list[Job]:
    """The jobs that run a pack: itself; refused, its parts the engine accepts alone, packed again
    (each refused part must name itself); those refused together, one part apart from the others
    packed, or else each part alone."""
    job = pack_job(synthetic, pack, **settings)
    if job is not None:
        return [job]
    alone = {kind: build(synthetic, kind, name, **settings) for kind, name in pack.items()}
    accepted = {kind: pack[kind] for kind, job in alone.items() if job is not None}
    if len(accepted) < len(pack):
        return packed_jobs(synthetic, accepted, **settings) if accepted else []
    for kind, job in alone.items():
        rest = pack_job(synthetic, {k: v for k, v in pack.items() if k != kind}, **settings)
        if rest is not None and job is not None:
            return [rest, job]
    return [job for job in alone.values() if job is not None]


@pytest.mark.parametrize(("engine", "pack"), PACK_CASES)
def test_engine_runs_parts_packed(synthetic, engine_settings, no_leftovers, engine, pack):
    for job in packed_jobs(synthetic, pack, engine=engine, **engine_settings):
        conforms(job)


VARIANTS: dict[tuple[str, str], dict[str, Any]] = {
    ("rule", "momentum"): {"nesterov": True},
    ("remedy", "drop_stale"): {"stale_bound": 1},
    ("algorithm", "localsgd"): {"local_steps": 3},
    ("algorithm", "easgd"): {"exchange_period": 2},
    ("algorithm", "eamsgd"): {"exchange_period": 2},
}
"""Settings under which a part's math differs from its default's (one run each, besides it)."""
LOCAL_PARTS = [
    pytest.param(kind, name, variant, id=f"{kind}-{name}" + "".join(f"-{k}={v}" for k, v in variant.items()))
    for kind, name in PARTS
    for variant in [{}, *([VARIANTS[kind, name]] if (kind, name) in VARIANTS else [])]
]


@pytest.mark.parametrize(("kind", "name", "variant"), LOCAL_PARTS)
def test_one_local_learner_is_the_simulator_bit_for_bit(synthetic, no_leftovers, kind, name, variant):
    """With one learner the ``local`` engine, over two shards, runs the simulator's math exactly:
    the same cycle, the same core, each shard's part of a push applied as the whole would be."""
    local = build(synthetic, kind, name, learners=1, engine="local", shards=2, **variant)
    if local is None:
        return
    sim = build(synthetic, kind, name, learners=1, engine="sim", delay="constant", **variant)
    assert sim is not None
    assert torch.equal(run(local)[0].params, run(sim)[0].params)
