"""Settings across releases: run ids that do not move, and old spellings that still load.

A run's id hashes its canonical settings (:meth:`RunConfig.canonical`). So that adding a setting
(a new codec's knob) does not give every recorded run a new id, a setting that did not exist when
run ids began is left out of the canonical form while it has its default value.

Three keys once meant several things and were split; the old spellings are read for one more
release, each with a :class:`DeprecatedSetting` warning, and the canonical form writes the old
spelling back, so old files, sweeps and databases give the same runs under the same ids:

* ``momentum`` of ``algorithm = "eamsgd"`` (its local δ) is ``local_momentum``; ``momentum`` is
  the server's (``rule = "momentum"``, ``"async_momentum"``);
* ``local_steps`` of easgd and eamsgd (τ_c) is ``exchange_period``; ``local_steps`` is local
  SGD's H;
* ``delay = "fixed"`` is ``schedule = "fixed"``, and ``delay = "trace:DIR"`` is
  ``schedule = "trace"`` with ``trace = "DIR"``; ``delay`` names a compute-time model only.
"""

from __future__ import annotations

import warnings
from typing import Any

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.config.engines import EXECUTION_ONLY
from asyncsgd.config.settings import declared
from asyncsgd.config.trackers import TRACKING
from asyncsgd.vocabulary.settings import names

TRACE_PREFIX = "trace:"
SPLIT = (("momentum", "local_momentum"), ("local_steps", "exchange_period"))
"""(old key, new key): the old key means the new one where the algorithm takes the new one."""


class DeprecatedSetting(FutureWarning):
    """An old spelling of a setting, read as its new key for one more release (one line)."""


def _takes(values: dict[str, Any], key: str) -> bool:
    algorithm = values.get("algorithm", declared()["algorithm"].default)
    return algorithm in ALGORITHMS and key in names(ALGORITHMS.get(algorithm).settings)


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated: write {new} (the old spelling goes in the next release)",
                  DeprecatedSetting, stacklevel=4)  # fmt: skip


_V1_NAMES = (
    "engine protocol learners seed threads device dataset data_path data_seed partition model "
    "hidden batch_size text_features text_vocab vocab_size max_tokens embed_dim lr rule momentum "
    "nesterov remedy codec ratio scope unbiased error_feedback algorithm local_steps elastic_alpha "
    "dc_lambda dc_momentum stale_bound ssp_bound adagrad_eps levels bucket clip threshold delay "
    "delay_mean delay_sigma slow_learners slow_factor staleness staleness_dist latency bandwidth "
    "server_time shards learner_threads hogwild respawn timeout ray_address ray_cpus_per_learner "
    "ray_gpus_per_learner ray_cpus_per_shard checkpoint_every epochs updates eval_every "
    "eval_grad_norm theory_rate theory_lipschitz theory_f_low theory_points theory_steps "
    "theory_probe_lr theory_batches theory_hvp theory_samples "
)
RUN_ID_V1 = frozenset(_V1_NAMES.split())
"""The settings of the first run-id version (``asyncsgd-run-v1``): always in the canonical form."""


def upgrade(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with deprecated spellings replaced by their keys (a warning for each); values
    that already use a new key are read as written."""
    out = dict(values)
    for old, new in SPLIT:
        if old in out and new not in out and _takes(out, new):
            out[new] = out.pop(old)
            _warn(f"{old} of algorithm {out.get('algorithm')!r}", new)
    delay = out.get("delay")
    if (
        isinstance(delay, str)
        and "schedule" not in out
        and (delay == "fixed" or delay.startswith(TRACE_PREFIX))
    ):
        del out["delay"]
        if delay == "fixed":
            out["schedule"] = "fixed"
            _warn('delay = "fixed"', 'schedule = "fixed"')
        else:
            out["schedule"], out["trace"] = "trace", delay.removeprefix(TRACE_PREFIX)
            _warn('delay = "trace:DIR"', 'schedule = "trace" and trace = "DIR"')
    return out


def canonical_form(values: dict[str, Any]) -> dict[str, Any]:
    """The settings a run id hashes: every first-version setting, and a later one only where it
    differs from its default; never the trackers a run reports to."""
    values = dict(values)
    for old, new in SPLIT:
        if _takes(values, new):
            values[old] = values.pop(new)
    schedule, trace = values.pop("schedule", "compute"), values.pop("trace", "")
    if schedule == "fixed":
        values["delay"] = "fixed"
    elif schedule == "trace":
        values["delay"] = TRACE_PREFIX + trace
    known = declared()
    for item in TRACKING:  # where a run is reported is no part of what it is
        values.pop(item.name, None)
    for name in EXECUTION_ONLY:  # nor how fast it is computed
        values.pop(name, None)
    return {k: v for k, v in values.items() if k in RUN_ID_V1 or k not in known or v != known[k].default}
