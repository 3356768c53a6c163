"""The smallest real run the tests share: a 2-learner MLP on synthetic data, 20 updates."""

TINY = {
    "dataset": "synthetic",
    "model": "mlp",
    "hidden": [16],
    "learners": 2,
    "updates": 20,
    "eval_every": 10,
}
"""Its settings, for ``RunConfig``/``build_sweep``/the API."""

TINY_TOML = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in TINY.items())
"""The same settings as lines of a TOML file (to follow a ``name = ...`` line)."""
