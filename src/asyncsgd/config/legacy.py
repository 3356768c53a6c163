"""Settings across releases: run ids that do not move, and old spellings that still load.

A run's id hashes its canonical settings (:meth:`RunConfig.canonical`). So that adding a setting
(a new codec's knob) does not give every recorded run a new id, a setting that did not exist when
run ids began is left out of the canonical form while it has its default value.
"""

from __future__ import annotations

from typing import Any

from asyncsgd.config.settings import declared

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
    """``values`` with deprecated spellings replaced by their keys."""
    return dict(values)


def canonical_form(values: dict[str, Any]) -> dict[str, Any]:
    """The settings a run id hashes: every first-version setting, and a later one only where it
    differs from its default."""
    known = declared()
    return {k: v for k, v in values.items() if k in RUN_ID_V1 or k not in known or v != known[k].default}
