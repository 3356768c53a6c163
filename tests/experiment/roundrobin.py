"""A tiny engine that checkpoints and resumes, for tests of ``--resume`` that need no processes:
learners take turns (local steps, pull, post steps, push, apply) against one core server."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from asyncsgd.assembly.engines import ENGINES
from asyncsgd.assembly.job import Job
from asyncsgd.engines.base import Engine
from asyncsgd.registry import Entry
from asyncsgd.vocabulary.reporting import EngineResult, Monitor, Timing


class RoundRobin(Engine):
    name = "roundrobin"

    def run(self, job: Job, monitor: Monitor) -> EngineResult:
        flat = job.flat_model("cpu")
        learners = [job.learner(i, flat) for i in range(job.config.learners)]
        server = job.server(flat.params, flat.layout, copy=True)
        streams = job.streams()
        samples = step = 0
        state = monitor.restored_engine_state()
        if state is not None:
            server.load_state_dict(state["server"])
            for i, learner in enumerate(learners):
                learner.load_state_dict(state["learners"][i])
            streams.load_state(state["streams"])
            samples, step = state["samples"], state["step"]
        while not job.budget_reached(server.version, samples):
            i = step % len(learners)
            learner = learners[i]
            step += 1
            for _ in range(learner.pre_steps):
                learner.local_step(job.batch(streams.next(i)))
            learner.receive(*server.pull(i))
            loss = math.nan
            for _ in range(learner.post_steps):
                loss = learner.local_step(job.batch(streams.next(i)))
            record = server.apply(learner.push())
            n = job.config.batch_size * (learner.pre_steps + learner.post_steps)
            samples += n
            monitor.on_push(record, Timing(end=float(step)), loss, n)
            if record.applied and monitor.eval_due(server.version):
                monitor.evaluate(server.params, server.version, samples, float(step))
            if monitor.checkpoint_due(server.version):
                monitor.save_checkpoint(
                    {
                        "server": server.state_dict(),
                        "learners": [learner.state_dict() for learner in learners],
                        "streams": streams.state(),
                        "samples": samples,
                        "step": step,
                        "updates": server.version,
                    }
                )
            if monitor.stop_requested():
                break
        rejected = {k: dict(v) for k, v in server.rejected.items()}
        return EngineResult(server.params.detach().clone(), server.version, float(step), rejected)


@contextmanager
def registered() -> Iterator[None]:
    """``engine = "roundrobin"`` while inside (the registry is as it was afterwards)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(ENGINES._entries, RoundRobin.name, Entry(RoundRobin.name, RoundRobin, "test engine"))
        yield
