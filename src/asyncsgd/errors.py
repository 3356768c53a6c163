"""The one error type for bad user input: a setting (config key, file, learner) and a message."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input, reported as one line that names the culprit."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class EngineFailure(RuntimeError):
    """A run that cannot go on because part of the engine was lost (one line: what, and what is kept)."""
