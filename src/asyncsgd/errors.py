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


class OutputError(OSError):
    """A result that could not be written (disk full, a file size limit, permissions): one line
    naming the file. Whatever was half-written is removed; an earlier complete file is kept."""
